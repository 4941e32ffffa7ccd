"""fsmirror's Prefect adapter: task and flow results as real files at mirrored paths.

Importing this package registers the ``fsmirror-storage`` block type and the
``fsmirror`` serializer; Prefect imports it through the ``prefect.collections``
entry point whenever it loads a block by slug, so ``"fsmirror-storage/<name>"``
works in any process.

    >>> from fsmirror_prefect import FSMirrorStorage, mirrored_task  # doctest: +SKIP
    >>> FSMirrorStorage(mirror="project").save("etl")                 # doctest: +SKIP
    >>> @mirrored_task(storage="fsmirror-storage/etl")                # doctest: +SKIP
    ... def lift_data() -> pd.DataFrame: ...
"""

from .cache_policy import FSMirrorSource, task_fingerprint
from .decorators import MirroredKey, mirrored_flow, mirrored_task
from .storage import FSMirrorSerializer, FSMirrorStorage

__all__ = [
    "FSMirrorStorage",
    "FSMirrorSerializer",
    "MirroredKey",
    "mirrored_task",
    "mirrored_flow",
    "FSMirrorSource",
    "task_fingerprint",
]

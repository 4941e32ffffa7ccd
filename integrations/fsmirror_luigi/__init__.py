"""fsmirror's Luigi adapter: ``FSMirrorTarget`` and the ``FSMirrorTask`` mixin.

>>> from fsmirror_luigi import FSMirrorTarget, FSMirrorTask  # doctest: +SKIP
"""

from . import _lineage, _running
from .config import clear_cache, get_mirror
from .target import FSMirrorFileSystem, FSMirrorTarget
from .task import FSMirrorTask

_lineage.install()  # one lineage scope per task run (Luigi's START / SUCCESS / FAILURE events)
_running.install()  # writes from run() to the task's own outputs are a new attempt

__all__ = ["FSMirrorTarget", "FSMirrorTask", "FSMirrorFileSystem", "get_mirror", "clear_cache"]

"""fsmirror's Luigi adapter: ``FSMirrorTarget`` and the ``FSMirrorTask`` mixin.

>>> from fsmirror_luigi import FSMirrorTarget, FSMirrorTask  # doctest: +SKIP
"""

from .config import clear_cache, get_mirror
from .target import FSMirrorFileSystem, FSMirrorTarget
from .task import FSMirrorTask

__all__ = ["FSMirrorTarget", "FSMirrorTask", "FSMirrorFileSystem", "get_mirror", "clear_cache"]

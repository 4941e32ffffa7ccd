"""``FSMirrorSource``: a Prefect cache policy keyed on fsmirror's code fingerprint of the task.

Prefect's ``TASK_SOURCE`` hashes the task function's own text only (prefect#23062): edit a
module-level constant the task reads, a helper it calls, or a project module it imports, and
the cache still hits, returning a result the current code would not produce. fsmirror's
fingerprint (:func:`fsmirror.model.fingerprint.code_version`, the same one manifests record as
``code.fingerprint``) covers the definition plus every statement of its module that binds or
changes a name it uses, transitively, plus the project modules it imports; and it ignores what
cannot change behaviour (comments, docstrings, formatting). Combine it with Prefect's own
policies::

    from prefect.cache_policies import INPUTS
    from fsmirror_prefect import FSMirrorSource

    @task(cache_policy=FSMirrorSource() + INPUTS)
    def scaled(x: int) -> int:
        return x * FACTOR

Like the fingerprint, it reads the source file on disk and sees nothing dynamic (data files,
installed packages, environment variables: docs/provenance.md, "What it does not see").
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import CachePolicy, TaskSource
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

from fsmirror.model.fingerprint import code_version, root_directory

__all__ = ["FSMirrorSource", "task_fingerprint"]


def task_fingerprint(fn: Any, root: str | None = None) -> str | None:
    """fsmirror's fingerprint of the function ``fn`` (a Prefect task's ``.fn``), or None without one.

    A function defined inside another (``flow_fn.<locals>.step``) is found as ``flow_fn.step``,
    the fingerprint's name for a nested definition. ``root``: the mirror's ``root`` directory name,
    so the project imports counted are the ones a manifest's ``code.fingerprint`` counts (default:
    the outermost package directory holding the file). None: no source file (a notebook cell, a
    builtin) or no definition of that name in it.
    """
    target = inspect.unwrap(fn)
    try:
        path = inspect.getsourcefile(target)
    except TypeError:  # a builtin, a C extension
        return None
    qualname = getattr(target, "__qualname__", None)
    if path is None or not isinstance(qualname, str) or "<lambda>" in qualname:
        return None
    try:
        top = root_directory(path, root)
    except ValueError:  # not under a directory named ``root``
        return None
    return code_version(path, qualname.replace(".<locals>", ""), os.fspath(top)).fingerprint


@dataclass
class FSMirrorSource(CachePolicy):
    """Cache key from fsmirror's fingerprint of the task's code (see the module docstring).

    Where there is no fingerprint (no source file, a lambda) the key is ``TASK_SOURCE``'s, so the
    policy is never weaker than Prefect's own; the keys of the two kinds differ by a tag, never mix.
    """

    root: str | None = None

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if not task_ctx:
            return None
        fingerprint = task_fingerprint(task_ctx.task.fn, self.root)
        if fingerprint is not None:
            return hash_objects("fsmirror-fingerprint", fingerprint, raise_on_failure=True)
        fallback = TaskSource().compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        return None if fallback is None else hash_objects("prefect-task-source", fallback)

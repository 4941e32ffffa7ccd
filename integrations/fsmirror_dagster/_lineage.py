"""One lineage scope per Dagster step: what its inputs loaded, recorded in what its outputs wrote.

Dagster calls an IO manager's ``load_input`` (once per input) and
``handle_output`` (once per output) from the step's execution, but not from
inside one call that spans the step: there is no place to put a ``with``
block around it. So the scope lives in the core's per-step registry
(:func:`fsmirror.lineage.step`), keyed ``dagster:<run id>:<step key>``: the
first IO manager call of a step opens it, every later one finds it.

The step ends where Dagster says it ends: its ``STEP_SUCCESS``, ``STEP_FAILURE``
or ``STEP_UP_FOR_RETRY`` event. The IO manager subscribes to the run's events
on the instance the step runs with (``DagsterInstance.add_event_listener``,
which Dagster's own external-step launcher uses), once per run and process;
a failed step's scope ends with the exception the step raised
(``step_context.step_exception``), or a :class:`StepFailed` carrying Dagster's
error message when the exception is not at hand.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from dagster import InputContext, OutputContext
from fsmirror import FSMirrorError, lineage

__all__ = ["StepFailed", "scope_key", "step_scope"]


class StepFailed(FSMirrorError, RuntimeError):
    """A Dagster step failed and its exception was not at hand: Dagster's error message."""


_subscribed: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_contexts: dict[str, Any] = {}  # scope key -> the step's StepExecutionContext (for its exception)
_lock = threading.Lock()


def scope_key(run_id: str, step_key: str) -> str:
    """The registry key of one step of one run: ``dagster:<run id>:<step key>``."""
    return f"dagster:{run_id}:{step_key}"


def _on_event(run_id: str, entry: Any) -> None:
    """Instance event listener: end the step's scope on its success, failure or retry."""
    try:
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            return
        if not (event.is_step_success or event.is_step_failure or event.is_step_up_for_retry):
            return
        key = scope_key(run_id, str(entry.step_key))
        with _lock:
            step_context = _contexts.pop(key, None)
        error: BaseException | None = None
        if not event.is_step_success:
            error = getattr(step_context, "step_exception", None)
            if error is None:
                data = event.event_specific_data
                info = getattr(data, "error", None)
                error = StepFailed(
                    f"Dagster step {entry.step_key!r} of run {run_id} failed: "
                    f"{getattr(info, 'message', None) or event.event_type_value}".rstrip()
                )
        lineage.finish(key, error)
    except Exception:  # a lineage record must never fail the run
        import logging

        logging.getLogger("fsmirror.dagster").warning("fsmirror: ending a step's scope failed", exc_info=True)


def _optional_step_key(context: OutputContext) -> str | None:
    try:
        return str(context.step_key)
    except Exception:
        return None


def _subscribe(instance: Any, run_id: str) -> None:
    with _lock:
        runs = _subscribed.setdefault(instance, set())
        if run_id in runs:
            return
        runs.add(run_id)
    instance.add_event_listener(run_id, lambda entry: _on_event(run_id, entry))


def step_scope(context: InputContext | OutputContext, job: str | None = None) -> lineage.Scope | None:
    """The open scope of the step ``context`` belongs to (opened now if this is its first IO call).

    None outside a running step: ``build_input_context()`` / ``build_output_context()``
    without a step context, or a result's ``output_for_node`` after the run, which loads a
    step's own output with that step's context (no running step ever loads its own output).
    """
    try:
        step_context = context.step_context
        run_id = str(step_context.run_id)
        step = str(step_context.step.key)
        instance = step_context.instance
    except Exception:
        return None
    if isinstance(context, InputContext):
        upstream = context.upstream_output
        if upstream is not None and _optional_step_key(upstream) == step:
            return None
    key = scope_key(run_id, step)
    s = lineage.get(key)
    if s is None:
        _subscribe(instance, run_id)
        with _lock:
            _contexts[key] = step_context
        try:
            job_name = step_context.job_name
        except Exception:
            job_name = None
        s = lineage.step(
            key,
            job=job,
            run_id=run_id,
            orchestrator={"name": "dagster", "run_id": run_id, "job_name": job_name, "step_key": step},
        )
    elif s.job is None and job is not None:
        s.job = job
    return s

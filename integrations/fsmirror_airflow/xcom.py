"""``FSMirrorXComBackend``: XCom values stored at the producing task's mirrored path.

The metadata DB keeps only ``{"__fsmirror_xcom__": "<uri>", "mirror": "<name>"}``,
a self-contained reference: ``deserialize_value`` receives nothing but the stored
value, in any process. Values at or above ``[fsmirror] xcom_threshold`` bytes (default 0:
every value) go to storage; smaller ones stay inline as Airflow stores them.

Each XCom key of a task instance gets its own file stem (:func:`xcom_output_name`):
the return value the mirror's ``output_name``, every other key a stem that can never
be it, so ``multiple_outputs`` keys and ``xcom_push`` keys never share a file with the
return value or with each other. Pulls follow the stored reference, whatever stem
(or partition) the writer chose, so references written by fsmirror 2.0 read as before.

A value that JSON would give back changed (a tuple, inside a dict or alone, comes back a
list) is stored in Airflow's own serde form (``airflow.sdk.serde``: still JSON, not a
pickle, so ``allow_pickle: false`` holds), and the reference says so
(``"encoding": "airflow.serde"``): the puller gets what Airflow's ``BaseXCom`` would give.
Airflow's internal keys (:data:`AIRFLOW_INTERNAL_KEYS`) stay inline in the metadata DB.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom

from fsmirror import ArtifactNotFoundError, ConfigError, FSMirror, FSMirrorError
from fsmirror.integration import in_context
from fsmirror.paths.address import CodeAddress

from . import _outputs, _scope
from ._dates import data_time
from ._listener import running_ti
from ._locate import attempt_of, fallback_target, get_mirror, setting, task_target

__all__ = [
    "FSMirrorXComBackend",
    "REF_KEY",
    "XCOM_PREFIX",
    "xcom_output_name",
    "MAX_STEM",
    "AIRFLOW_INTERNAL_KEYS",
    "SERDE",
]

REF_KEY = "__fsmirror_xcom__"
SERDE = "airflow.serde"
"""The reference's ``encoding`` (and the manifest's ``orchestrator.encoding``) of a value stored
in ``airflow.sdk.serde``'s form."""
AIRFLOW_INTERNAL_KEYS = frozenset(
    {
        # SkipMixin (@task.branch, ShortCircuitOperator, LatestOnlyOperator): the scheduler's
        # NotPreviouslySkippedDep reads it from the DB, which calls no custom backend.
        "skipmixin_key",
        # TriggerDagRunOperator's run id and logical date, read by its operator link (API server).
        "trigger_run_id",
        "trigger_logical_date_iso",
    }
)
"""Keys Airflow pushes for itself and reads back without a custom backend: kept inline, not artifacts."""
XCOM_PREFIX = "xcom-"
"""The escaped stems: ``xcom-<escaped key>``. No plain stem starts with it."""
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9-][A-Za-z0-9_-]*$")
_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_STEM = 200
"""Longer stems stay inline: ``_<stem>.manifest.json`` must fit a 255-byte file name."""
log = logging.getLogger(__name__)


def _escape_key(key: str) -> str:
    """``key`` with every character outside letters, digits, ``_``, ``-`` as ``~XX`` per UTF-8 byte.

    Injective: ``~`` is itself escaped (``~7E``), so every ``~`` starts exactly one
    escape, and the kept characters stand for themselves.
    """
    return "".join(
        ch if ch in _KEEP else "".join(f"~{b:02X}" for b in ch.encode("utf-8", "surrogatepass")) for ch in key
    )


def xcom_output_name(key: str, output_name: str, *, taken: bool = False) -> str | None:
    """The file stem of XCom ``key`` in a mirror whose ``output_name`` is ``output_name``; None: inline.

    One-to-one over the keys of a task instance:

    - ``return_value`` -> ``output_name`` (``out``), so the return value sits at the
      task's default macro path;
    - any other key that is a plain stem (letters, digits, ``_``, ``-``), is not
      ``output_name`` and does not start with ``xcom-`` -> itself (``stats``);
    - every other key -> ``xcom-<key escaped>`` (``out`` -> ``xcom-out``, ``a.b`` ->
      ``xcom-a~2Eb``), and so does the return value when ``output_name`` itself
      starts with ``xcom-``.

    Plain stems never start with ``xcom-`` and escaped ones always do, and the
    escape is injective, so two keys never share a stem. ``taken``: a file the task
    wrote itself at a macro path owns the plain stem, so the escaped one is used.

    Keys starting with ``_`` stay inline (None): Airflow's own such keys (an
    operator's extra links, ``_link_<Class>``) are read by the API server, which
    does not call custom backends. So do Airflow's internal keys
    (:data:`AIRFLOW_INTERNAL_KEYS`) and keys whose stem would pass ``MAX_STEM``.
    """
    if key.startswith("_") or key in AIRFLOW_INTERNAL_KEYS:
        return None
    if key == BaseXCom.XCOM_RETURN_KEY:
        plain: str | None = None if output_name.startswith(XCOM_PREFIX) else output_name
    elif _OUTPUT_NAME.match(key) and key != output_name and not key.startswith(XCOM_PREFIX):
        plain = key
    else:
        plain = None
    stem = plain if plain is not None and not taken else XCOM_PREFIX + _escape_key(key)
    return stem if len(stem) <= MAX_STEM else None


def _threshold() -> int:
    raw = setting("xcom_threshold", "FSMIRROR_XCOM_THRESHOLD")
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"[fsmirror] xcom_threshold = {raw!r} is not a whole number of bytes "
            "(AIRFLOW__FSMIRROR__XCOM_THRESHOLD); 0 stores every value"
        ) from None


def _inline_size(serialized: Any) -> float:
    try:
        return len(json.dumps(serialized, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        return float("inf")


def _json_exact(value: Any, depth: int = 0) -> bool:
    """Whether JSON gives ``value`` back equal and of the same types (no tuple, no non-str key)."""
    if depth > 200:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return type(value) in (str, bool, int) or value is None  # a str/int subclass comes back plain
    if isinstance(value, float):
        return type(value) is float and value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def _exact_form(value: Any) -> Any | None:
    """Airflow serde's form of a JSON-able ``value`` that JSON would change; None: store it as it is.

    Only values plain JSON can hold (so a tuple, or a dict with a tuple inside) change
    form: everything else keeps the format rule of the module doc. The serde form is used
    only when it is JSON and gives the value back equal.
    """
    if _json_exact(value):
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None  # not JSON at all: parquet, bytes or the mirror's format, as before
    from airflow.sdk.serde import deserialize, serialize

    try:
        form = serialize(value)
        json.dumps(form, allow_nan=False)
        same = bool(deserialize(form) == value)
    except Exception:
        return None
    return form if same else None


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get(REF_KEY), str):
        return str(value[REF_KEY])
    return None


def _slot_of(fm: FSMirror, uri: str) -> dict[str, Any] | None:
    """The committed artifact at ``uri`` as the core's (obj, run_id, partition, output_name), from its manifest.

    The manifest (read by the core's one reader rule, ``graph.manifest_at``: mid-overwrite, the
    run it replaces) records the module and the name apart, which is what this reads; the
    derived path must be ``uri`` exactly.
    """
    from fsmirror.services.graph import manifest_at

    man = manifest_at(fm, uri)
    if man is None:
        return None
    module, qualname = str(man.code.get("module") or ""), str(man.code.get("qualname") or "")
    if not module or not qualname:
        return None
    parts = module.split("/")
    slot: dict[str, Any] = {
        "obj": CodeAddress((*parts[:-1], parts[-1] + ".py"), qualname),
        "run_id": man.run_id,
        "partition": man.partition,
        "output_name": man.output_name or None,
    }
    try:
        if fm.mirror_full_output(**slot, output_format=man.format) != uri:
            return None
    except FSMirrorError:
        return None
    return slot


def _read(fm: FSMirror, uri: str) -> Any:
    try:
        return fm.read_uri(uri)
    except ArtifactNotFoundError:
        slot = _slot_of(fm, uri)
        if slot is None:
            raise
        return fm.read(**slot)


def _delete(fm: FSMirror, uri: str) -> bool:
    if fm.delete_uri(uri):
        return True
    slot = _slot_of(fm, uri)
    return slot is not None and fm.delete(**slot)


def _reader(ref: dict[str, Any]) -> FSMirror:
    """The mirror that wrote ``ref`` when configured (its ``allow_pickle`` applies), else the default."""
    name = ref.get("mirror")
    fm = get_mirror()
    if isinstance(name, str) and name != fm.mirror and name in fm.config.mirrors:
        return get_mirror(name)
    return fm


class FSMirrorXComBackend(BaseXCom):
    """An XCom backend that writes through ``FSMirror.write`` (atomic, with a manifest).

    Set ``AIRFLOW__CORE__XCOM_BACKEND=fsmirror_airflow.FSMirrorXComBackend``. A
    task's XCom lands at ``<mirror>/<module>/<dag_id>@<run_id>/<task>/<dag_id>[@<map_index>]/<stem>.<fmt>``
    (the stem from :func:`xcom_output_name`: ``return_value`` uses the mirror's
    ``output_name``, ``stats`` itself, ``out`` ``xcom-out``), the same directory as
    ``{{ macros.fsmirror.path() }}``. The format follows the value: DataFrame ->
    parquet, JSON-able -> json, else the mirror's format. A value pushed where no
    running task was seen (``serialize_value`` called outside a task) goes to
    ``<mirror root>/_airflow/<dag_id>.py::<task_id>``.
    """

    @staticmethod
    def serialize_value(
        value: Any,
        *,
        key: str | None = None,
        task_id: str | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        map_index: int | None = None,
    ) -> Any:
        threshold = _threshold()
        if value is None:
            return BaseXCom.serialize_value(value)
        if threshold > 0:
            inline = BaseXCom.serialize_value(value)
            if _inline_size(inline) < threshold:
                return inline
        key = key or BaseXCom.XCOM_RETURN_KEY
        if key.startswith("_") or key in AIRFLOW_INTERNAL_KEYS:
            # Airflow's own keys (an operator's extra links, _link_<Class>; SkipMixin's branch
            # decisions): Airflow reads them from the DB without calling a custom backend.
            return BaseXCom.serialize_value(value)
        where = f"XCom {key!r} of task {task_id!r} in DAG {dag_id!r}, run {run_id!r}"
        try:
            fm = get_mirror()
            output_name = xcom_output_name(key, fm.settings.output_name)
            if output_name is None:
                log.warning(
                    "fsmirror: %s: the key is too long to name a file (%d characters at most, "
                    "escaped): stored inline in the metadata DB",
                    where,
                    MAX_STEM - len(XCOM_PREFIX),
                )
                return BaseXCom.serialize_value(value)
            ti = running_ti(dag_id, task_id, run_id, map_index) if dag_id and task_id and run_id else None
            if ti is not None:
                target = task_target(ti.task, dag_id, run_id, map_index)  # type: ignore[arg-type]
            else:
                target = fallback_target(fm.settings.root, dag_id, task_id, run_id, map_index)
                if dag_id and task_id and run_id:
                    log.warning(
                        "fsmirror: %s: the task was not seen starting in this process (the 'fsmirror' "
                        "plugin's listener records it: check that `airflow plugins` lists fsmirror); "
                        "stored at the fallback address %s",
                        where,
                        target["obj"],
                    )
            if (
                ti is not None
                and not output_name.startswith(XCOM_PREFIX)
                and _outputs.claims(dag_id, task_id, run_id, map_index, output_name)
            ):
                # the task wrote its own file under that name: the escaped stem, still one per key
                output_name = xcom_output_name(key, fm.settings.output_name, taken=True)
                if output_name is None:
                    return BaseXCom.serialize_value(value)
            exact = _exact_form(value)
            s = _scope.open_step(ti) if ti is not None else None
            with _scope.within(s):  # the push records what the task pulled and read
                uri = fm.write(
                    target["obj"],
                    value if exact is None else exact,
                    run_id=target["run_id"],
                    partition=target["partition"],
                    output_name=output_name,
                    format="auto",
                    # One value per key: a second push of a key in one try replaces it, as
                    # Airflow's own XCom.set does. Airflow purges an earlier try's XComs before a
                    # retry; whatever was left (a try that died between writing and recording its
                    # XCom) is replaced too, and the manifest's attempt says which try wrote it.
                    overwrite=True,
                    attempt=attempt_of(ti) if ti is not None else 0,
                    run_source="airflow",
                    data_time=data_time(ti) if ti is not None else None,
                    orchestrator={
                        "dag_id": dag_id,
                        "task_id": task_id,
                        "run_id": run_id,
                        "map_index": -1 if map_index is None else map_index,
                        "try_number": getattr(ti, "try_number", None),
                        "xcom_key": key,
                        **({} if exact is None else {"encoding": SERDE}),
                        **({} if ti is not None else {"located": False}),
                    },
                )
        except FSMirrorError as e:
            raise in_context(e, f"fsmirror XCom backend, {where}") from e
        except Exception as e:  # store unreachable, credentials...: say where
            raise FSMirrorError(
                f"fsmirror XCom backend, {where}: could not write to storage: {type(e).__name__}: {e}"
            ) from e
        return {REF_KEY: uri, "mirror": fm.mirror, **({} if exact is None else {"encoding": SERDE})}

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        value = result.value
        uri = _ref(value)
        if uri is None:
            return BaseXCom.deserialize_value(result)
        try:
            with _scope.within(_scope.current_step()):  # a pull is an input of the pulling task
                got = _read(_reader(value), uri)
        except FSMirrorError as e:
            raise in_context(e, f"fsmirror XCom backend, reading {uri}") from e
        if value.get("encoding") == SERDE:
            from airflow.sdk.serde import deserialize

            return deserialize(got)
        return got

    @classmethod
    def purge(cls, xcom: Any, *args: Any) -> None:
        """Remove the artifact of a cleared XCom (Airflow calls this before a retry or re-run)."""
        uri = _ref(getattr(xcom, "value", None))
        if uri is None:
            return
        try:
            _delete(get_mirror(), uri)
        except FSMirrorError as e:
            raise in_context(e, f"fsmirror XCom backend, purging {uri}") from e

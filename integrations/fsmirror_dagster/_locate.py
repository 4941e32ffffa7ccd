"""Where a Dagster output's artifact is: code, instance, run, attempt and file stem, from one set of rules.

``handle_output`` and ``load_input`` (reading a same-run or parent-run
upstream) must agree exactly, so the rules live here once. They follow the
core's identity model (``fsmirror.identity``: code x instance x run x attempt x
output), so that ``runs``, ``latest``, ``gc`` and ``stale`` see one series per
node of a job, never one node's artifact as a newer run of another's:

- **code**: the function the user decorated (``@asset``, ``@op``,
  ``@multi_asset``), or the code address in the output's definition metadata
  (``fsmirror/address``). A function defined inside another function (an asset
  factory) has no stable qualname, so it is addressed by its file plus
  ``<enclosing function>.<Dagster name>``: ``make_assets.eu_sales`` for
  ``@asset(name="eu_sales")`` inside ``make_assets``.
- **instance**: which use of the code. The step's node when it is not the
  function's own name (an op used twice, ``add_1_2``; aliased, ``plus``; inside a
  graph, ``four.add_1``; an asset with a key prefix, ``raw__orders``), and the
  partition key when there is one: ``(node, partition key)``, the node alone, the
  partition key alone, or none (the function's own node, unpartitioned).
- **run**: Dagster's run id, as it is.
- **attempt**: the step's retry number within the run (0 for the first try), so a
  retry replaces what an earlier try of the step committed.
- **partition**: a partitioned asset's partition key; an op output's (no asset)
  is the run's partition key, if the run has one.
- **file stem**: the mirror's ``output_name`` for a single output, else the
  output name; dynamic mapping keys are appended (``out-a``).

fsmirror 2.0 put the node into the run instead (the scoped run id ``(run id,
node)``, ``<run id>@<node>``); :attr:`Location.v2_slot` names that slot, so a
parent run written by 2.0 is still found on re-execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagster import Failure, InputContext, OutputContext
from fsmirror import FSMirror
from fsmirror.paths.address import CodeAddress
from fsmirror.paths.identity import Instance
from fsmirror.paths.runid import RunId

__all__ = [
    "ADDRESS_METADATA_KEY",
    "OUTPUT_NAME_METADATA_KEY",
    "Location",
    "Slot",
    "output_location",
    "output_attempt",
    "declared_address",
    "user_fn",
    "code_of",
    "step_key",
    "output_name",
    "describe_output",
]

ADDRESS_METADATA_KEY = "fsmirror/address"
"""Definition metadata naming the code address an output is stored under (or an upstream is read from)."""

OUTPUT_NAME_METADATA_KEY = "fsmirror/output_name"
"""Definition metadata naming a declared upstream's file stem (default: the mirror's ``output_name``)."""


@dataclass(frozen=True)
class Slot:
    """What the core's ``write`` / ``read`` / ``artifact_uri`` take to name one artifact."""

    obj: Any  # the user's function, a CodeAddress, or an address string
    run_id: RunId
    partition: Instance | None  # the instance (a partition key, or a tuple of parts)
    output_name: str | None


@dataclass(frozen=True)
class Location:
    """Where one Dagster output is stored, dimension by dimension (the module docstring)."""

    obj: Any  # the user's function, a CodeAddress, or an address string
    run_id: str
    node: str | None  # the step's node, when it is not the function's own name
    partition_key: str | None
    output_name: str | None

    @property
    def instance(self) -> Instance | None:
        """``(node, partition key)``, the node alone, the partition key alone, or None."""
        parts = tuple(p for p in (self.node, self.partition_key) if p is not None)
        return None if not parts else parts[0] if len(parts) == 1 else parts

    @property
    def slot(self) -> Slot:
        return Slot(self.obj, self.run_id, self.instance, self.output_name)

    @property
    def v2_slot(self) -> Slot | None:
        """fsmirror 2.0's slot of this output where it differs: the node in the run, ``(run id, node)``."""
        if self.node is None:
            return None
        return Slot(self.obj, (self.run_id, self.node), self.partition_key, self.output_name)


def user_fn(op_def: Any) -> Any:
    """The function the user decorated: its code location is the path."""
    compute_fn = op_def.compute_fn
    return getattr(compute_fn, "decorated_fn", compute_fn)


def _op_def(context: OutputContext) -> Any:
    try:
        return context.op_def
    except Exception:  # build_output_context() without op_def=
        return None


def step_key(context: OutputContext) -> str | None:
    try:
        return str(context.step_key)
    except Exception:  # build_output_context() without step_key=
        return None


def output_name(context: OutputContext) -> str:
    """The Dagster output's name (``result`` when build_output_context() was given none)."""
    try:
        return str(context.name)
    except Exception:
        return "result"


def declared_address(context: OutputContext | InputContext) -> str | None:
    """The ``fsmirror/address`` definition metadata, if set."""
    value = (context.definition_metadata or {}).get(ADDRESS_METADATA_KEY)
    value = getattr(value, "value", value)  # a MetadataValue.text, or the raw string
    return value if isinstance(value, str) and value else None


def _code(context: OutputContext) -> tuple[Any, str]:
    """(what the core resolves, the qualname it mirrors as) for an output."""
    declared = declared_address(context)
    if declared is not None:
        return declared, declared.rpartition("::")[2]
    op_def = _op_def(context)
    if op_def is None:
        raise Failure(
            description=f"fsmirror cannot store {describe_output(context)}: the context names no code. "
            f"Pass op_def= to build_output_context(), or set definition metadata "
            f"{{{ADDRESS_METADATA_KEY!r}: 'path/to/module.py::name'}}"
        )
    return code_of(user_fn(op_def), str(op_def.name))


def code_of(fn: Any, dagster_name: str) -> tuple[Any, str]:
    """(what the core resolves, the qualname it mirrors as) for ``fn``, defined in Dagster as ``dagster_name``.

    A module-level function is itself. One defined inside a function (an asset factory) has no
    stable qualname, so it is its file plus ``<enclosing function>.<Dagster name>``; the core's
    fingerprint of such a name is the enclosing function's, whose body makes the asset. The IO
    manager (where an output is stored, the manifest's code) and ``with_code_versions`` (the
    definition's ``code_version``) both name code through here, so the two always agree.
    """
    qualname = str(getattr(fn, "__qualname__", ""))
    if ".<locals>." not in qualname:
        return fn, qualname
    code = getattr(fn, "__code__", None)
    file = str(getattr(code, "co_filename", "") or "")
    if not file or file.startswith("<"):
        return fn, qualname  # no file (a notebook cell): the core says so
    name = f"{qualname.split('.<locals>.', 1)[0]}.{dagster_name}"
    return CodeAddress(tuple(p for p in file.replace("\\", "/").split("/") if p), name), name


def _node(context: OutputContext, qualname: str) -> str | None:
    """The step's node when it is not the function's own name (None: the plain run slot)."""
    key = step_key(context)
    if key is None:
        return None
    if key.endswith("]") and "[" in key:  # process[a]: a step mapped over a dynamic output
        key = key[: key.rindex("[")]
    return None if key == qualname.rpartition(".")[2] else key


def _output_name(fm: FSMirror, context: OutputContext) -> str | None:
    """The artifact's file stem (see the module docstring)."""
    op_def = _op_def(context)
    single = len(op_def.output_defs) == 1 if op_def is not None else output_name(context) == "result"
    stem = None if single else output_name(context)
    key = step_key(context) or ""
    step_mapping = key[key.rindex("[") + 1 : -1] if key.endswith("]") and "[" in key else None
    keys = [k for k in (step_mapping, context.mapping_key) if k]
    if not keys:
        return stem
    return "-".join([stem or fm.settings.output_name, *keys])


def output_location(fm: FSMirror, context: OutputContext, partition: str | None) -> Location:
    """The slot of ``context``'s output for ``partition`` (the caller knows the partition)."""
    obj, qualname = _code(context)
    return Location(obj, str(context.run_id), _node(context, qualname), partition, _output_name(fm, context))


def output_attempt(context: OutputContext) -> int:
    """The step's retry number within its run: 0 on the first try, 1 on the first retry.

    Dagster's ``OpExecutionContext.retry_number`` is the step context's
    ``previous_attempt_count`` (the run's ``RetryState`` for this step key); an
    ``OutputContext`` reaches the same step context. A context built by
    ``build_output_context()`` has none: its write is a first try.
    """
    try:
        count = context.step_context.previous_attempt_count
    except Exception:  # build_output_context() without a step context
        return 0
    return int(count) if isinstance(count, int) and count >= 0 else 0


def describe_output(context: OutputContext) -> str:
    asset = f" (asset {context.asset_key.to_user_string()!r})" if context.has_asset_key else ""
    code = ""
    op_def = _op_def(context)
    if op_def is not None:
        fn = user_fn(op_def)
        file = getattr(getattr(fn, "__code__", None), "co_filename", None)
        if file:
            code = f" defined at {file}::{fn.__qualname__}"
    return f"output {output_name(context)!r} of step {step_key(context)!r}{asset}{code}"

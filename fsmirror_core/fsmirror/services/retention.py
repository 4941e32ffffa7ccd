"""Retention: which runs ``gc`` deletes, and why every other run stays.

The protocol (``store/protocol.py``) knows how to delete one run safely and re-checks a
pin as it does (docs/protocol.md, "Pins"); this module decides *what* to delete. A run
of a series in scope stays when any of these holds, and the reasons are kept so that
``gc --dry-run`` can say them:

- it is one of the newest ``keep`` runs (``newest N``; with ``keep=0`` the newest still
  stays: ``latest``);
- a pin stands beside it (``pinned: <reason>``);
- its manifest was committed less than ``min_age`` ago (``younger than 7d``);
- with ``keep_inputs``, a run that stays (anywhere in the mirror, in scope or not) read
  it, directly or through other runs that stay (``input of <address> run <r>``): lineage
  records are followed from every survivor, matched by URI and content hash, so an input
  overwritten since (other bytes) protects nothing.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import FSMirrorError, StorageError
from ..model.retention import Pin, Policy, parse_age
from ..paths import names
from ..paths.identity import instance_label

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest
    from ..store.protocol import Slot
    from .catalog import Artifact

__all__ = [
    "Pin", "Policy", "Decision", "parse_age", "plan", "apply", "read_pins", "pin_at", "configured", "pins", "retain",
]  # fmt: skip


@dataclass
class Decision:
    """One run of a series in scope: deleted when ``reasons`` is empty, kept for each reason otherwise."""

    artifact: Artifact
    manifest: Manifest
    reasons: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def doomed(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "address": a.address,
            "run_id": list(a.run_id) if isinstance(a.run_id, tuple) else a.run_id,
            "segment": a.segment,
            "partition": a.to_json()["partition"],
            "output_name": a.output_name,
            "keep": list(self.reasons),
        }


def _pin_path(a: Artifact) -> str:
    return names.pin_file(a.uri.rpartition("/")[0], a.output_name)


def pin_at(fm: FSMirror, uri: str, output_name: str) -> Pin | None:
    """The pin beside the artifact at ``uri`` (one read), or None."""
    data = fm.store.get_sidecar(names.pin_file(uri.rpartition("/")[0], output_name))
    return None if data is None else Pin.load(data)


def read_pins(fm: FSMirror, artifacts: Iterable[Artifact]) -> dict[str, Pin]:
    """URI -> pin for the artifacts that have one: one listing (under their common directory), then one read per pin."""
    wanted = {_pin_path(a): a.uri for a in artifacts}
    if not wanted:
        return {}
    backend = fm.store.backend
    common: list[str] | None = None
    for p in wanted:  # the directories' common parts, as strings: 's3://b/x' keeps its '//'
        parts = p.split("/")[:-1]
        if common is None:
            common = parts
        else:
            n = 0
            while n < min(len(common), len(parts)) and common[n] == parts[n]:
                n += 1
            common = common[:n]
    under = "/".join(common or [])
    found = [st.path for st in backend.listing(under) if st.path in wanted]
    results = backend.parallel(*[(lambda p=p: fm.store.get_sidecar(p)) for p in found]) if found else []
    pins: dict[str, Pin] = {}
    for p, r in zip(found, results, strict=True):
        if isinstance(r, Exception):
            raise r
        if r is not None:
            pins[wanted[p]] = Pin.load(r)
    return pins


def _age_text(seconds: float) -> str:
    return f"{seconds:g}s"


def plan(
    fm: FSMirror,
    target: str | None,
    policy: Policy | Callable[[Artifact], Policy],
    *,
    now: _dt.datetime | None = None,
) -> list[Decision]:
    """Every run of every series under ``target`` (an address or code path; None: the mirror), decided.

    ``policy`` may be one policy or a function of the artifact (per code prefix). The whole
    mirror is read (one listing, its manifests, its pins) because a run anywhere can hold
    an input in scope. Decisions come oldest first within each series, series sorted.
    """
    from ..model.record import created_us
    from .catalog import parse_target, scan_manifests, series

    every = scan_manifests(fm, None)
    module, qualname = parse_target(target)
    if qualname is not None:
        module = fm.resolver.pieces(f"{module}.py::{qualname}")[0]

    def in_scope(a: Artifact) -> bool:
        if module is None:
            return True
        if qualname is not None:
            return a.module == module and a.qualname == qualname
        return a.module == module or a.module.startswith(module.rstrip("/") + "/")

    mans = {a.uri: m for a, m, _ in every}
    arts = {a.uri: a for a, _, _ in every}
    pins = read_pins(fm, arts.values())
    now_us = created_us((now or _dt.datetime.now(_dt.timezone.utc)).isoformat())
    pick = policy if callable(policy) else (lambda _a, p=policy: p)
    decisions: dict[str, Decision] = {}
    for _key, runs in sorted(
        series([a for a in arts.values() if in_scope(a)]).items(), key=lambda kv: repr(kv[0])
    ):
        pol = pick(runs[-1])
        ranked = sorted(runs, key=lambda a: mans[a.uri].order)  # newest first
        for i, a in enumerate(ranked):
            d = Decision(a, mans[a.uri])
            if pol.keep is not None and i < pol.keep:
                d.reasons.append(f"newest {pol.keep}")
            elif i == 0:
                d.reasons.append("latest")
            pin = pins.get(a.uri)
            if pin is not None:
                d.reasons.append(f"pinned: {pin.reason}" if pin.reason else "pinned")
            if pol.min_age is not None:
                age = (now_us - created_us(a.created_at)) / 1e6
                if age < parse_age(pol.min_age):
                    d.reasons.append(f"younger than {pol.min_age}")
            decisions[a.uri] = d
        for a in runs:  # oldest first, as ls and runs list them
            decisions[a.uri] = decisions.pop(a.uri)

    # Follow lineage from every run that stays: in scope with a reason, or out of scope.
    queue = deque(sorted(u for u in arts if u not in decisions or not decisions[u].doomed))
    seen = set(queue)
    while queue:
        uri = queue.popleft()
        reader = arts[uri]
        if not pick(reader).keep_inputs:
            continue
        for read in mans[uri].inputs:
            if read.uri not in arts:
                continue  # gone already, or outside the mirror
            held = mans[read.uri]
            if read.hash is not None and held.hash is not None and read.hash != held.hash:
                continue  # overwritten since: these are not the bytes that were read
            kept = decisions.get(read.uri)
            if kept is not None:
                kept.reasons.append(f"input of {reader.address} run {reader.segment}" + _part(reader))
            if read.uri not in seen:
                seen.add(read.uri)
                queue.append(read.uri)
    return [d for d in decisions.values()]


def _part(a: Artifact) -> str:
    return f" partition {instance_label(a.partition)}" if a.partition is not None else ""


def apply(
    fm: FSMirror, decisions: list[Decision], *, on_delete: Callable[[Decision], None] | None = None
) -> list[Decision]:
    """Delete the doomed runs; returns those deleted. A run a pin, a writer or a newer commit holds is skipped.

    Each delete is the protocol's gc delete (``only_order``): it re-reads the run's pin after
    its pending record (docs/protocol.md, "Pins"), so a pin taken since :func:`plan` holds.
    """
    from .. import lineage

    store = fm.store
    done = []
    for d in decisions:
        if not d.doomed:
            continue
        try:
            # The slot from the manifest's own fields (as the catalog derived the URI): no request.
            slot: Slot = fm.resolver.slot_of(d.manifest)
            gone = store.delete(slot, only_order=d.manifest.order)
        except StorageError as e:
            if e.kind != "damaged":
                raise
            gone = False
        except FSMirrorError:
            gone = False  # a manifest whose fields derive no slot of this mirror: not ours to delete
        if gone:
            d.deleted = True
            done.append(d)
        if on_delete is not None:
            on_delete(d)
    if done and lineage.wants("artifacts_deleted"):
        lineage.deleted([d.manifest for d in done])  # the OpenLineage DROP, as FSMirror.gc tells it
    return done


def configured(
    fm: FSMirror, *, keep: int | None, min_age: str | None, keep_inputs: bool | None
) -> Callable[[Artifact], Policy]:
    """The mirror's ``retention`` config with each given argument (a CLI flag) over it, per artifact.

    A ``by_prefix`` rule applies to the code under that path (``project/etl/raw`` takes
    ``project/etl/raw.py`` and ``project/etl/raw/...``); the longest matching prefix wins, and
    each field it leaves out is the mirror's.
    """
    r = fm.settings.retention
    rules = sorted(r.by_prefix.items(), key=lambda kv: len(kv[0].strip("/")), reverse=True)
    cache: dict[str, Policy] = {}

    def pick(a: Artifact) -> Policy:
        got = cache.get(a.module)
        if got is not None:
            return got
        k, age, inputs = r.keep, r.min_age, r.keep_inputs
        for prefix, rule in rules:
            p = prefix.strip("/").removesuffix(".py")
            if a.module == p or a.module.startswith(p + "/"):
                k = rule.keep if rule.keep is not None else k
                age = rule.min_age if rule.min_age is not None else age
                inputs = rule.keep_inputs if rule.keep_inputs is not None else inputs
                break
        got = cache[a.module] = Policy(
            keep if keep is not None else k,
            min_age if min_age is not None else age,
            keep_inputs if keep_inputs is not None else inputs,
        )
        return got

    return pick


def pins(fm: FSMirror, target: str | None = None) -> dict[str, str | None]:
    """Pinned artifacts under ``target`` (an address or code path; None: the mirror): URI -> reason."""
    from .catalog import scan

    return {uri: p.reason for uri, p in sorted(read_pins(fm, scan(fm, target)).items())}


def retain(
    fm: FSMirror,
    target: str | None = None,
    *,
    keep: int | None = None,
    min_age: str | None = None,
    keep_inputs: bool | None = None,
    dry_run: bool = False,
) -> list[Decision]:
    """gc by the retention policy over every series under ``target``; returns each run's decision.

    A run stays when it is one of the newest ``keep``, the latest, pinned, younger than
    ``min_age`` (``'7d'``, ``'12h'``), or (``keep_inputs``) an input of a run that stays,
    transitively through the manifests' lineage. An argument left out is the mirror's
    ``retention`` config (per code prefix); ``keep`` must come from one or the other.
    Each :class:`Decision` says why its run stays (``reasons``); ``deleted`` marks what went.
    What ``fsmirror gc`` runs.
    """
    if keep is None and fm.settings.retention.keep is None:
        raise ValueError("give keep=N, or set retention.keep in the mirror's config")
    if keep is not None and keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    if min_age is not None:
        parse_age(min_age)
    decisions = plan(fm, target, configured(fm, keep=keep, min_age=min_age, keep_inputs=keep_inputs))
    if not dry_run:
        apply(fm, decisions)
    return decisions

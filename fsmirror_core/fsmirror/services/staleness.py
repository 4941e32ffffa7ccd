"""Staleness: which artifacts' latest runs were not made by today's code from today's inputs.

For every series (code, partition, output) under a target, the *latest* run's
manifest is compared with the code on disk now (:mod:`fsmirror.fingerprint`,
recomputed from the source file without importing it) and with the latest runs
of the inputs it recorded (``manifest.inputs``). An artifact is stale when

- its code changed (``code changed``; ``code changed in project/x.py`` when only
  an imported project module did), its source file is gone (``source missing``),
  its definition is gone, or its manifest has no fingerprint to compare
  (written before fsmirror recorded code versions); or
- an input has a newer run than the one it was made from, was overwritten
  since, or its run was deleted (``input X has a newer run r2 (made from r1)``); or
- an input's latest run is itself stale (``input X is stale``), transitively.

An input that is not in this mirror's store (another store, or deleted) says
nothing either way. Listing goes through :func:`fsmirror.catalog.scan`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model.fingerprint import CodeVersion, code_version, project_root
from ..model.record import order_key
from ..paths.address import split_recorded
from ..paths.identity import Instance, instance_json, instance_label, instance_sort_key

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Input, Manifest
    from .catalog import Artifact

__all__ = ["Staleness", "staleness", "find_source"]

SeriesKey = tuple[str, str, "Instance | None", str]


@dataclass(frozen=True)
class Staleness:
    """One series' latest artifact and why it is stale (no reasons: fresh)."""

    address: str
    partition: Instance | None
    output_name: str
    run: str  # the latest run's path segment
    uri: str
    reasons: tuple[str, ...]
    recorded: str | None  # the fingerprint in the manifest
    today: str | None  # the fingerprint of the source on disk now

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "partition": instance_json(self.partition),
            "output_name": self.output_name,
            "run": self.run,
            "uri": self.uri,
            "stale": self.stale,
            "reasons": list(self.reasons),
            "fingerprint_recorded": self.recorded,
            "fingerprint_today": self.today,
        }


def find_source(code: dict[str, Any], source_root: str | None = None) -> str | None:
    """The source file of a manifest's code on this machine today, or None.

    With ``source_root``: ``<source_root>/<module>.py`` (the directory holding the
    mirror's root directory) or ``<source_root>/<module below the root>.py`` (the root
    directory itself). Without: the file the writer recorded, else the module's path
    from the current directory.
    """
    module = str(code.get("module") or "")
    rel = module + ".py"
    below = rel.split("/", 1)[1] if "/" in rel else rel
    if source_root is not None:
        candidates = [os.path.join(source_root, rel), os.path.join(source_root, below)]
    else:
        recorded = code.get("source_file")
        candidates = ([str(recorded)] if recorded else []) + [rel]
    for cand in candidates:
        if os.path.isfile(cand):
            return cand
    return None


def _key(address: str, partition: Instance | None, output_name: str) -> SeriesKey:
    module, qualname = split_recorded(address)
    return (module, qualname, partition, output_name)


class _Judge:
    """Memoized, cycle-safe walk: the reasons each series' latest run is stale."""

    def __init__(
        self,
        latest: dict[SeriesKey, tuple[Artifact, Manifest]],
        default_output: str,
        source_root: str | None,
    ) -> None:
        self.latest = latest
        self.default_output = default_output
        self.source_root = source_root
        self.memo: dict[SeriesKey, tuple[str, ...]] = {}
        self.today: dict[str, tuple[CodeVersion, str | None]] = {}
        self.walking: set[SeriesKey] = set()

    def label(self, address: str, partition: Instance | None, output_name: str) -> str:
        return (
            address
            + (f" partition {instance_label(partition)}" if partition is not None else "")
            + (f" output {output_name}" if output_name != self.default_output else "")
        )

    def code_now(self, man: Manifest) -> tuple[CodeVersion, str | None]:
        # the code the writer fingerprinted: code.definition when the address's name is not it
        name = str(man.code.get("definition") or man.code.get("qualname") or "")
        addr = f"{man.address} {name}"
        if addr not in self.today:
            src = find_source(man.code, self.source_root)
            module = str(man.code.get("module") or "")
            root = project_root(src, module) if src is not None else None
            self.today[addr] = (code_version(src, name, root), src)
        return self.today[addr]

    def code_reasons(self, man: Manifest) -> list[str]:
        now, src = self.code_now(man)
        recorded = man.code.get("fingerprint")
        if src is None:
            return [f"source missing ({man.code.get('module')}.py not found)"]
        if now.fingerprint is None:
            return [str(now.problem)]
        if not recorded:
            return ["code version unknown (the manifest records no fingerprint)"]
        if recorded == now.fingerprint:
            return []
        out = []
        if man.code.get("fingerprint_self") != now.fingerprint_self:
            out.append("code changed")
        then: dict[str, str] = dict(man.code.get("imports") or {})
        changed = sorted(m for m in then.keys() | now.imports.keys() if then.get(m) != now.imports.get(m))
        if changed:
            out.append("code changed in " + ", ".join(changed))
        return out or ["code changed"]

    def input_reasons(self, inputs: Iterable[Input]) -> list[str]:
        out = []
        for i in inputs:
            key = _key(i.address, i.partition, i.output_name)
            got = self.latest.get(key)
            if got is None:
                continue  # not in this store: says nothing either way
            art, man = got
            name = self.label(i.address, i.partition, i.output_name)
            if (
                art.segment != i.run
                and i.created_at is not None
                and man.order > order_key(i.created_at, i.run)
            ):
                # the run it was made from sorts newer than the latest: deleted since (gc)
                out.append(f"input {name} run {i.run} is gone (latest: {art.segment})")
            elif art.segment != i.run:
                out.append(f"input {name} has a newer run {art.segment} (made from {i.run})")
            elif i.created_at is not None and man.created_at != i.created_at:
                out.append(f"input {name} was overwritten since (run {i.run})")
            elif self.reasons(key):
                out.append(f"input {name} is stale")
        return out

    def reasons(self, key: SeriesKey) -> tuple[str, ...]:
        if key in self.memo:
            return self.memo[key]
        if key in self.walking:
            return ()  # a lineage cycle: judged where it started
        self.walking.add(key)
        try:
            _, man = self.latest[key]
            found = tuple(self.code_reasons(man) + self.input_reasons(man.inputs))
        finally:
            self.walking.discard(key)
        self.memo[key] = found
        return found


def staleness(fm: FSMirror, target: str | None = None, *, source_root: str | None = None) -> list[Staleness]:
    """Every series under ``target`` (address or code path), its latest run judged; sorted by address.

    The whole store is scanned for lineage (an input may live outside ``target``);
    the latest manifests are read concurrently.
    """
    from .catalog import check_damaged_latest, scan_manifests

    damaged: list[str] = []
    everything = [  # one listing, one read each
        (a, m) for a, m, _ in scan_manifests(fm, on_damaged=lambda path, _: damaged.append(path)) if a.latest
    ]
    # A series whose latest hint names an unreadable manifest has no latest run to judge: its
    # newest readable run is not it, so judging that one would answer for another run.
    check_damaged_latest(fm, damaged)
    latest = {a.series: (a, m) for a, m in everything}
    if target is None:
        wanted = [a for a, _ in everything]
    else:
        wanted = [a for a, _, _ in scan_manifests(fm, target) if a.latest]
    judge = _Judge(latest, fm.settings.output_name, source_root)
    out = []
    for a in wanted:
        if a.series not in latest:
            continue
        man = latest[a.series][1]
        out.append(
            Staleness(
                address=a.address,
                partition=a.partition,
                output_name=a.output_name,
                run=a.segment,
                uri=a.uri,
                reasons=judge.reasons(a.series),
                recorded=man.code.get("fingerprint"),
                today=judge.code_now(man)[0].fingerprint,
            )
        )
    out.sort(key=lambda s: (s.address, instance_sort_key(s.partition), s.output_name))
    return out

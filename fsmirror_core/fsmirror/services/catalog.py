"""What is in the store: committed artifacts, found by their manifests.

A manifest is the commit marker, so listing manifests (one recursive listing,
then one concurrent read of the small JSON files) finds exactly the committed
artifacts: a write that died half-way has data but no manifest and never
shows. ``fsmirror ls``, ``runs`` and ``gc --all`` stand on this.
"""

from __future__ import annotations

import datetime as _dt
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import FSMirrorError, ResolveError, StorageError, StoreWarning
from ..paths import names
from ..paths.identity import Identity, Instance, instance_sort_key
from ..paths.names import MANIFEST_SUFFIX
from ..paths.runid import RunId, decode_run_id

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest
    from ..store.backends import Backend

__all__ = [
    "Artifact",
    "scan",
    "scan_manifests",
    "cell_identities",
    "check_damaged_latest",
    "series",
    "newest",
    "on_logical_date",
    "partition_key",
    "parse_target",
    "age",
]

_SCRATCH = ("/.fsmirror/", "/_fsmirror/")


@dataclass(frozen=True)
class Artifact:
    """One committed artifact, as its manifest describes it."""

    address: str
    module: str
    qualname: str
    run_id: RunId
    segment: str
    partition: Instance | None  # the instance (fsmirror.identity)
    output_name: str
    uri: str
    format: str
    size: int
    created_at: str
    latest: bool = False
    logical_date: str | None = None  # the data's logical date, UTC ISO (model.record.DataTime), if recorded

    @property
    def series(self) -> tuple[str, str, Instance | None, str]:
        """What ``gc`` and ``latest`` group runs by: code x instance x output (fsmirror.identity)."""
        return (self.module, self.qualname, self.partition, self.output_name)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["run_id"] = list(self.run_id) if isinstance(self.run_id, tuple) else self.run_id
        return d


def parse_target(target: str | None) -> tuple[str | None, str | None]:
    """``ADDRESS`` (``pkg/mod.py::Name``) or a code path prefix -> (module prefix, qualname).

    ``project/etl``, ``project/etl/`` and ``project/etl/lift.py`` are prefixes;
    only an address with ``::`` names one piece of code.
    """
    if target is None or target.strip("/ ") == "":
        return None, None
    path, sep, name = target.partition("::")
    path = path.replace("\\", "/").strip("/")
    if path.endswith(".py"):
        path = path[:-3]
    if any(p in ("", ".", "..") for p in path.split("/")):
        raise ResolveError(
            f"{target!r} is not a code path: use 'pkg/mod.py::Name' or a directory like 'pkg/sub'",
            kind="malformed-address",
        )
    if sep and not name:
        raise ResolveError(f"{target!r} names no code after '::'", kind="malformed-address")
    return path, (name or None)


def scan(
    fm: FSMirror, target: str | None = None, *, on_progress: Callable[[int, int], None] | None = None
) -> list[Artifact]:
    """Every committed artifact of ``fm``'s mirror under ``target`` (address or code path), oldest first.

    Damaged or foreign manifests are skipped with a :class:`~fsmirror.StoreWarning` naming them;
    ``latest`` marks each series' newest run by the protocol's one ordering.

    The cost is one recursive listing, then every manifest read at once (the backend's
    ``parallel``: on S3 the reads share s3fs's connection pool), so a listing of 1,000
    artifacts costs about as much as raw s3fs ``find`` plus a concurrent ``cat`` of the
    manifests (benchmark row 20). ``on_progress(done, total)`` is called as manifests
    arrive, from the reading threads.
    """
    return [a for a, _, _ in scan_manifests(fm, target, on_progress=on_progress)]


def scan_manifests(
    fm: FSMirror,
    target: str | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    on_damaged: Callable[[str, FSMirrorError], None] | None = None,
) -> list[tuple[Artifact, Manifest, bool]]:
    """:func:`scan` with each artifact's manifest, and whether an overwrite of it is pending.

    ``on_damaged(cell path, error)`` hears of every cell skipped because it cannot be read as
    a manifest (besides the warning): ``verify`` and ``stale`` must not answer past one.
    """
    from ..model.record import Pending, parse_cell, visible_manifest

    module, qualname = parse_target(target)
    address = f"{module}.py::{qualname}"
    if qualname is not None:
        module = fm.resolver.pieces(address)[0]
    elif module is not None:
        parts = module.split("/")
        root = fm.settings.root
        if root in parts:  # 'src/project/etl' -> 'project/etl', as addresses resolve
            module = "/".join(parts[len(parts) - 1 - parts[::-1].index(root) :])
    backend = fm.store.backend
    own: Callable[[str], bool] = lambda path: True  # noqa: E731
    if qualname is not None:
        # One code address: list where its runs are (the layout's part before the run segment)
        # and read only the cells the layout puts under it: its module's siblings' manifests
        # were read and thrown away (502 GETs where the address had 3 runs).
        root, after = fm.resolver.listing(address, None, fm.resolver.output_name(None))
        fixed = after[:-1]  # the layout's tokens after the run segment; then instance, cell name

        def own(path: str) -> bool:
            parts = path[len(root.rstrip("/")) + 1 :].split("/")
            return len(parts) >= len(fixed) + 2 and tuple(parts[1 : 1 + len(fixed)]) == fixed

    else:
        root = fm.resolver.listing_root(module)
    cells = [
        st.path
        for st in backend.listing(root)
        if st.path.rsplit("/", 1)[-1].startswith("_")
        and st.path.endswith(MANIFEST_SUFFIX)
        and not any(s in "/" + st.path for s in _SCRATCH)
        and own(st.path)
    ]
    if not cells:
        return []
    out: list[tuple[str, Artifact, Manifest, bool]] = []
    reads = _read_all(backend, cells, on_progress)
    for path, blob in zip(cells, reads, strict=True):
        try:
            if isinstance(blob, Exception):
                raise blob
            if blob is None:
                continue  # deleted since the listing
            cell = parse_cell(blob.data, path)
            man = visible_manifest(cell)
            if man is None:
                continue
            man = _at_its_place(fm, man, path)
            code = man.code
            art = Artifact(
                address=str(code["address"]),
                module=str(code["module"]),
                qualname=str(code["qualname"]),
                run_id=decode_run_id(man.segment),
                segment=man.segment,
                partition=man.partition,
                output_name=man.output_name,
                uri=man.uri,
                format=man.format,
                size=man.size,
                created_at=man.created_at,
                logical_date=man.data_time.logical_date if man.data_time else None,
            )
        except (FSMirrorError, ValueError, KeyError, TypeError) as e:
            warnings.warn(f"skipping {path}: {e}", StoreWarning, stacklevel=3)
            foreign = isinstance(e, FSMirrorError) and e.kind == "foreign"
            if on_damaged is not None and not foreign and _may_be_under(fm, path, module, qualname):
                on_damaged(path, e if isinstance(e, FSMirrorError) else StorageError(str(e), kind="damaged"))
            continue
        if module is not None and not (art.module == module or art.module.startswith(module + "/")):
            continue
        if qualname is not None and (art.module != module or art.qualname != qualname):
            continue
        out.append((man.order, art, man, isinstance(cell, Pending)))
    out.sort(key=lambda x: (x[0], x[1].uri), reverse=True)  # order_key sorts newest first
    newest: dict[tuple[str, str, Instance | None, str], Artifact] = {}
    for _, a, _, _ in out:
        newest[a.series] = a
    latest = {id(a) for a in newest.values()}
    return [
        (Artifact(**{**asdict(a), "latest": True}) if id(a) in latest else a, m, pending)
        for _, a, m, pending in out
    ]


def cell_identities(fm: FSMirror, path: str) -> tuple[Identity, ...]:
    """Every identity whose manifest cell is ``path``, read from the path alone.

    For a cell that cannot be read as a manifest (which says nothing of itself): which series
    it may be the run of, so a reader can ask that series' latest hint whether it names it.
    """
    directory, _, filename = path.rpartition("/")
    kind, out = names.kind_of(filename)
    if kind != "manifest" or not directory:
        return ()
    return tuple(loc.identity for loc in fm.resolver.locate(names.artifact_file(directory, out, "x")))


def _may_be_under(fm: FSMirror, path: str, module: str | None, qualname: str | None) -> bool:
    """Whether an unreadable cell may be an artifact of the code a scan was asked about."""
    if module is None:
        return True
    for ident in cell_identities(fm, path):
        mod, _, name = ident.address.partition("::")
        mod = mod.removesuffix(".py")
        if qualname is None and (mod == module or mod.startswith(module + "/")):
            return True
        if qualname is not None and (mod, name) == (module, qualname):
            return True
    return False


def check_damaged_latest(fm: FSMirror, damaged: list[str]) -> None:
    """Raise ``StorageError(kind="damaged")`` when a series' latest hint names one of these cells.

    Such a run may be its series' newest, so an answer built from the readable runs (an older
    run judged fresh, a store called sound) would be a wrong answer; an unreadable cell the
    hint does not name is an older run's, and the answer stands. The check is the protocol's
    own ``latest`` (the one a read makes), asked only for series that hold a damaged cell.
    """
    for path in damaged:
        for ident in cell_identities(fm, path):
            try:
                series = fm.resolver.series(ident.address, ident.instance, ident.output_name)
            except FSMirrorError:
                continue
            fm.store.latest(series)  # raises when its hint names the unreadable run


def _at_its_place(fm: FSMirror, man: Manifest, path: str) -> Manifest:
    """``man`` as found at ``path``, its ``uri`` derived here, never taken from the record.

    The record's fields (address, instance, run, output) must derive this very cell through
    the mirror's layout: a manifest copied or tampered into another directory commits nothing
    there. The ``uri`` a writer recorded is the tenant as *it* spelled it (a relative path from
    its working directory, a symlink): comparing that string with this listing would hide a
    whole store read through another spelling, and following it could read another store. So
    the artifact's location is where this reader found it, in this reader's spelling.
    """
    import dataclasses

    fmt = man.format
    if not fmt or not fmt.isascii() or not fmt.isalnum():
        raise StorageError(f"{path}: the manifest's format {fmt!r} is damaged", kind="damaged")
    slot = fm.resolver.slot_of(man)
    if slot.manifest != path:
        raise StorageError(
            f"{path} is not where its own fields put it ({slot.manifest}): a copied or tampered manifest",
            kind="foreign",
        )
    uri = slot.data(fmt)
    return man if man.uri == uri else dataclasses.replace(man, uri=uri)


def _read_all(
    backend: Backend, paths: list[str], on_progress: Callable[[int, int], None] | None
) -> list[Any]:
    """``backend.get`` of every path at once; exceptions in place of results."""
    total = len(paths)
    if on_progress is None:
        return backend.parallel(*[(lambda p=p: backend.get(p)) for p in paths])
    on_progress(0, total)
    lock = threading.Lock()
    done = [0]

    def get(p: str) -> Any:
        try:
            return backend.get(p)
        finally:
            with lock:
                done[0] += 1
                n = done[0]
            on_progress(n, total)

    return backend.parallel(*[(lambda p=p: get(p)) for p in paths])


def partition_key(partition: Instance | None) -> tuple[Any, ...]:
    """Sort key for instances: none first, then numbers by value (``2`` before ``10``), then text.

    Runs of digits compare as numbers, so ``2026-1-9`` sorts before ``2026-1-10`` and map
    indexes ``0 .. 11`` sort as numbers, not as strings (:func:`fsmirror.identity.instance_sort_key`).
    """
    return instance_sort_key(partition)


def series(artifacts: list[Artifact]) -> dict[tuple[str, str, Instance | None, str], list[Artifact]]:
    """Artifacts grouped by code, partition and output; each group oldest first.

    Groups come sorted by module, qualname, partition (:func:`partition_key`) and output.
    """
    groups: dict[tuple[str, str, Instance | None, str], list[Artifact]] = {}
    for a in artifacts:
        groups.setdefault(a.series, []).append(a)
    order = sorted(groups, key=lambda k: (k[0], k[1], partition_key(k[2]), k[3]))
    return {k: groups[k] for k in order}


def newest(artifacts: list[Artifact], limit: int | None) -> list[Artifact]:
    """The newest ``limit`` runs of each series (all of them for ``None``), in the input's order."""
    if limit is None:
        return list(artifacts)
    keep = {id(a) for runs in series(artifacts).values() for a in (runs[-limit:] if limit else [])}
    return [a for a in artifacts if id(a) in keep]


def on_logical_date(artifacts: list[Artifact], wanted: _dt.date | _dt.datetime) -> list[Artifact]:
    """The artifacts whose data is of logical date ``wanted``: a UTC day, or an exact instant.

    ``latest`` marks stay as the whole series set them: the newest run of a series may be of
    another day.
    """
    from ..model.record import DataTime

    return [a for a in artifacts if DataTime(a.logical_date).on(wanted)]


def age(created_at: str, now: _dt.datetime | None = None) -> str:
    """'3 min ago' from an ISO timestamp: what a person scanning a listing wants."""
    try:
        then = _dt.datetime.fromisoformat(created_at)
    except ValueError:
        return "?"
    now = now or _dt.datetime.now(_dt.timezone.utc)
    secs = max(0.0, (now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= size:
            return f"{int(secs // size)} {unit} ago"
    return f"{int(secs)} s ago"

"""Reverse lookup: from whatever a person holds to the committed artifact and what made it.

A person rarely holds a code address. They hold a URI from a log line, a path on a
shared disk, a file a colleague sent, or a hash from a report. :func:`lookup` takes
any of these and returns the committed artifact's manifest::

    project/etl/lift_data.py::extract                    a code address (its latest run by default)
    s3://bucket/project/etl/lift_data/<run>/extract/out.parquet   an artifact URI (s3, gs, az, file)
    /data/store/project/etl/lift_data/<run>/extract/out.parquet   a local path into a local store
    project/etl/lift_data/<run>/extract/out.parquet      a path relative to the mirror's base or tenant
    3f9a1c07                                             a content-hash prefix (6+ hex digits)
    ./copy-of-out.parquet                                a local file outside the store: found by content

A path is trusted only as far as the manifest beside it derives that exact path from
its own fields (the check :meth:`FSMirror._slot_for_uri` makes): a copied or tampered
manifest names nothing. Anything that is not a committed artifact raises
:class:`~fsmirror.NotAnArtifactError` whose ``kind`` says what it is instead (a
manifest, a ``latest`` pointer, a run-index entry, a pending slot, a foreign file, a
path outside the tenant, ...), with the artifact it belongs to where there is one.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactNotFoundError, FSMirrorError, NotAnArtifactError, ResolveError, StorageError
from ..paths import names
from ..paths.identity import Instance, instance_label, instance_sort_key
from ..paths.layout import base_uri
from ..paths.providers import by_scheme, provider
from ..paths.runid import RunId

if TYPE_CHECKING:
    from ..mirror import FSMirror
    from ..model.record import Manifest
    from .inventory import Committed

__all__ = ["Found", "FORMS", "MIN_HASH_PREFIX", "lookup", "find_by_digest", "only_partition"]

#: How a target was understood (``Found.form``).
FORMS = ("address", "uri", "path", "relative", "hash", "content")
MIN_HASH_PREFIX = 6
_HASH = re.compile(r"^(?:(blake3|sha256):)?([0-9a-fA-F]+)$")
_SHOW_CHOICES = 12


@dataclass(frozen=True)
class Found:
    """A committed artifact, found from ``target``.

    Attributes:
        target: what was asked for, as given.
        form: how it was understood, one of :data:`FORMS`.
        uri: where the artifact's bytes are (what :meth:`FSMirror.write` returned).
        manifest_uri: where its manifest (the commit marker) is.
        manifest: the committed record: code, run, orchestrator ids, git, inputs, hash.
    """

    target: str
    form: str
    uri: str
    manifest_uri: str
    manifest: Manifest

    @property
    def address(self) -> str:
        return self.manifest.address

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "form": self.form,
            "uri": self.uri,
            "manifest_uri": self.manifest_uri,
            "manifest": self.manifest.to_json(),
        }


def lookup(
    fm: FSMirror,
    target: str,
    *,
    run_id: RunId | None = "latest",
    partition: Instance | None = None,
    output_name: str | None = None,
    logical_date: _dt.date | _dt.datetime | None = None,
) -> Found:
    """The committed artifact ``target`` names (see the module doc for the forms taken).

    ``run_id``, ``partition``, ``output_name`` and ``logical_date`` apply to a code address
    only; a URI, a path or a hash names one artifact by itself. Without ``partition``, an
    address whose runs all have one partition (an Airflow task used by one DAG) takes that
    one; with several, the error names them. ``logical_date`` (a UTC day or an instant)
    picks the newest run whose data is of that logical date (``DataTime.on``).

    Raises:
        NotAnArtifactError: the target is something else (its ``kind`` says what).
        ResolveError: a malformed code address or hash prefix.
    """
    target = target.strip()
    if not target:
        raise ResolveError("nothing to look up: give a code address, a URI, a path or a hash prefix")
    if "::" in target and "://" not in target:
        if logical_date is not None:
            run_id, partition = _on_logical_date(fm, target, run_id, partition, output_name, logical_date)
        return _by_address(fm, target, run_id, partition, output_name)
    if (
        partition is not None
        or output_name is not None
        or logical_date is not None
        or run_id not in (None, "latest")
    ):
        raise ResolveError(
            f"{target!r} names one artifact by itself: a run id, partition, output name or logical date "
            "applies to a code address 'pkg/mod.py::Name' only"
        )
    m = _HASH.match(target)
    if m and "/" not in target and not os.path.exists(target):
        return _by_hash(fm, target, m.group(1), m.group(2).lower())
    scheme, sep, rest = target.partition("://")
    if sep:
        if scheme == "file":  # file:///abs/path or file://localhost/abs/path, percent-encoded
            from urllib.parse import unquote

            path = rest[len("localhost") :] if rest.startswith("localhost/") else rest
            return _by_local_path(fm, target, unquote(path if path.startswith("/") else "/" + path), "uri")
        return _by_uri(fm, target, scheme, rest)
    local = os.path.expanduser(target)
    if os.path.isabs(local) or target.startswith(("./", "../", "~")):
        return _by_local_path(fm, target, local, "path")
    return _by_relative(fm, target)


# -- a code address -----------------------------------------------------------------------------------


def _by_address(
    fm: FSMirror, target: str, run_id: RunId | None, partition: Instance | None, output_name: str | None
) -> Found:
    try:
        if run_id == "latest" and not _may_have_runs(fm, target, partition, output_name):
            raise ArtifactNotFoundError(f"no committed run of {target}")
        slot, man, _ = fm.find(target, run_id, partition, output_name)
    except ArtifactNotFoundError as e:
        only = only_partition(fm, target, run_id, output_name) if partition is None else None
        if only is not None:
            return _by_address(fm, target, run_id, only, output_name)
        _diagnose_address(fm, target, run_id, partition, output_name, e)
        raise  # pragma: no cover - _diagnose_address always raises
    return Found(target, "address", slot.data(man.format), slot.manifest, man)


def only_partition(
    fm: FSMirror, target: str, run_id: RunId | None = "latest", output_name: str | None = None
) -> Instance | None:
    """The one partition (instance) the address's artifacts have, or None (none, several, or unpartitioned).

    "The one" among the committed artifacts of ``output_name`` (in run ``run_id`` when one is
    named): an Airflow task used by a single DAG has the DAG id as its only instance, so
    ``fsmirror show dags/etl.py::load`` needs no ``--partition``. An address with any
    unpartitioned artifact of that output gives None: there, no partition means that one.
    """
    from .catalog import scan

    want = fm.resolver.output_name(output_name)
    arts = [a for a in scan(fm, target) if a.output_name == want]
    if run_id is not None and run_id != "latest":
        seg = fm.run_segment(run_id)
        arts = [a for a in arts if a.segment == seg]
    parts = {a.partition for a in arts}
    return next(iter(parts)) if len(parts) == 1 else None


def _on_logical_date(
    fm: FSMirror,
    target: str,
    run_id: RunId | None,
    partition: Instance | None,
    output_name: str | None,
    wanted: _dt.date | _dt.datetime,
) -> tuple[RunId, Instance | None]:
    """(run, partition) of the newest artifact of ``target`` whose logical date is ``wanted``."""
    from .catalog import on_logical_date, scan

    address = str(fm.resolver.address(target))
    want = fm.resolver.output_name(output_name)
    arts = [a for a in scan(fm, target) if a.output_name == want]
    if partition is not None:
        arts = [a for a in arts if a.partition == partition]
    if run_id is not None and run_id != "latest":
        seg = fm.run_segment(run_id)
        arts = [a for a in arts if a.segment == seg]
    hits = on_logical_date(arts, wanted)
    if not hits:
        days = sorted({a.logical_date for a in arts if a.logical_date is not None})
        raise NotAnArtifactError(
            f"no committed artifact of {address} has logical date {wanted.isoformat()}"
            + (f"; its logical dates: {_quoted(days)}" if days else " (none records a logical date)"),
            kind="missing",
            subject=address,
            choices=tuple(days),
        )
    parts = sorted({a.partition for a in hits}, key=instance_sort_key)
    if partition is None and len(parts) > 1:
        labels = [str(instance_label(p)) for p in parts]
        raise NotAnArtifactError(
            f"{address} has artifacts of logical date {wanted.isoformat()} in several partitions: "
            f"{_quoted(labels)}; name one (partition=...)",
            kind="partitions",
            subject=address,
            choices=tuple(labels),
        )
    newest = hits[-1]  # scan: oldest first
    return newest.run_id, newest.partition


def _may_have_runs(fm: FSMirror, target: str, partition: Instance | None, output_name: str | None) -> bool:
    """False when a local series has no pointer and no run: then reading ``latest`` would only
    leave an empty pointer behind (the protocol repairs hints on a miss), so a mistyped name
    would litter the store."""
    from .catalog import scan

    if not fm.store.backend.local:
        return True
    series = fm.mirror_full(target, with_id=False, partition=partition)
    if os.path.exists(names.pointer_file(series, fm.resolver.output_name(output_name))):
        return True
    out = fm.resolver.output_name(output_name)
    return any(a.output_name == out and a.partition == partition for a in scan(fm, target))


def _quoted(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOW_CHOICES])
    more = len(values) - _SHOW_CHOICES
    return shown + (f" and {more} more" if more > 0 else "")


def _diagnose_address(
    fm: FSMirror,
    target: str,
    run_id: RunId | None,
    partition: Instance | None,
    output_name: str | None,
    error: ArtifactNotFoundError,
) -> None:
    """Say why an address found nothing: which partitions, outputs or runs it has, or a near name."""
    from .catalog import scan

    arts = scan(fm, target)
    address = str(fm.resolver.address(target))
    if not arts:
        module = fm.resolver.pieces(target)[0]
        qualname = target.rpartition("::")[2]
        known = sorted({a.qualname for a in scan(fm, module + ".py") if a.module == module})
        close = difflib.get_close_matches(qualname, known, n=3, cutoff=0.6)
        if close:
            alts = tuple(f"{module}.py::{q}" for q in close)
            raise NotAnArtifactError(
                f"no committed artifact of {address}; did you mean {' or '.join(repr(a) for a in alts)}?",
                kind="unknown-code",
                subject=address,
                choices=alts,
            ) from error
        where = f"; {module}.py has artifacts of {_quoted(known)}" if known else ""
        raise NotAnArtifactError(
            f"no committed artifact of {address} in mirror {fm.mirror!r}{where}",
            kind="missing",
            subject=address,
            choices=tuple(f"{module}.py::{q}" for q in known),
        ) from error
    if run_id is not None and run_id != "latest":
        seg = fm.run_segment(run_id)
        in_run = [a for a in arts if a.segment == seg]
        if not in_run:
            segs = list(dict.fromkeys(a.segment for a in reversed(arts)))  # scan: oldest first
            raise NotAnArtifactError(
                f"{address} has no committed run {seg!r}; its runs, newest first: {_quoted(segs)}",
                kind="runs",
                subject=address,
                choices=tuple(segs),
            ) from error
        arts = in_run
    want = fm.settings.output_name if output_name is None else output_name
    outputs = sorted({a.output_name for a in arts})
    if want not in outputs:
        what = "has several outputs" if output_name is None else f"has no output {want!r}"
        raise NotAnArtifactError(
            f"{address} {what}: {_quoted(outputs)}; name one (output_name=...)",
            kind="outputs",
            subject=address,
            choices=tuple(outputs),
        ) from error
    parts = [
        str(instance_label(p))
        for p in sorted(
            {a.partition for a in arts if a.output_name == want and a.partition is not None},
            key=instance_sort_key,
        )
    ]
    if partition is None and parts:
        raise NotAnArtifactError(
            f"{address} is partitioned: {_quoted(parts)}; name one (partition=...)",
            kind="partitions",
            subject=address,
            choices=tuple(parts),
        ) from error
    if partition is not None:
        raise NotAnArtifactError(
            f"{address} has no partition {instance_label(partition)!r}"
            + (f"; its partitions: {_quoted(parts)}" if parts else " (it is not partitioned)"),
            kind="partitions",
            subject=address,
            choices=tuple(parts),
        ) from error
    raise error


# -- a content hash -----------------------------------------------------------------------------------


def find_by_digest(fm: FSMirror, prefix: str, algorithm: str | None = None) -> list[Committed]:
    """Every committed artifact whose content digest starts with ``prefix`` (hex, any case)."""
    from .inventory import committed

    prefix = prefix.lower()
    return [
        c
        for c in committed(fm)
        if c.manifest.hash.digest.lower().startswith(prefix)
        and (algorithm is None or c.manifest.hash.algorithm == algorithm)
    ]


def _one(fm: FSMirror, target: str, form: str, hits: list[Committed], what: str) -> Found:
    if len(hits) == 1:
        c = hits[0]
        return Found(target, form, c.uri, c.manifest_uri, c.manifest)
    if not hits:
        raise NotAnArtifactError(
            f"no committed artifact of mirror {fm.mirror!r} (under {fm.base}) has {what}",
            kind="missing",
            subject=target,
        )
    uris = tuple(c.uri for c in sorted(hits, key=lambda c: c.manifest.order))
    same = len({c.manifest.hash for c in hits}) == 1
    hint = (
        "they hold the same bytes: name one by its URI" if same else "give more digits of the hash, or a URI"
    )
    raise NotAnArtifactError(
        f"{len(hits)} committed artifacts have {what} ({hint}):\n  " + "\n  ".join(uris),
        kind="ambiguous",
        subject=target,
        choices=uris,
    )


def _by_hash(fm: FSMirror, target: str, algorithm: str | None, digits: str) -> Found:
    if len(digits) < MIN_HASH_PREFIX:
        raise ResolveError(
            f"{target!r} is too short for a hash prefix: give at least {MIN_HASH_PREFIX} hex digits "
            "(or a code address 'pkg/mod.py::Name', a URI or a path)"
        )
    label = f"{algorithm}:" if algorithm else ""
    return _one(fm, target, "hash", find_by_digest(fm, digits, algorithm), f"a hash starting {label}{digits}")


# -- paths and URIs -----------------------------------------------------------------------------------


def _tenant_root(fm: FSMirror) -> str:
    st = fm.config.storage
    return base_uri(st.provider, st.tenant, None, None)


def _under(path: str, root: str) -> bool:
    return root == "" or path == root or path.startswith(root.rstrip("/") + "/")


def _by_uri(fm: FSMirror, target: str, scheme: str, rest: str) -> Found:
    ours, sep, _ = fm.base.partition("://")
    named = by_scheme(scheme)  # an alias (gcs://, abfss://...) names the same store
    scheme = named.scheme if named is not None else scheme
    if not sep:
        raise NotAnArtifactError(
            f"{target} is outside the store: mirror {fm.mirror!r} is on local disk ({fm.base})",
            kind="outside",
            subject=target,
        )
    if scheme != ours:
        raise NotAnArtifactError(
            f"{target} is outside the store: mirror {fm.mirror!r} is at {fm.base}",
            kind="outside",
            subject=target,
        )
    return _in_store(fm, target, f"{ours}://{rest.lstrip('/')}", "uri")


def _store_path_of_local(fm: FSMirror, local: str) -> str | None:
    """The store's spelling of a local path inside a local tenant (however either is spelled)."""
    if provider(fm.config.storage.provider).object_store:
        return None
    root = _tenant_root(fm) or "/"
    for norm in (os.path.abspath, os.path.realpath):
        rel = os.path.relpath(norm(local), norm(root))
        if rel == "." or not rel.startswith(".."):
            rel = rel.replace(os.sep, "/")
            return root if rel == "." else f"{root.rstrip('/')}/{rel}"
    return None


def _by_local_path(fm: FSMirror, target: str, local: str, form: str) -> Found:
    inside = _store_path_of_local(fm, local)
    if inside is not None:
        return _in_store(fm, target, inside, form)
    if os.path.isfile(local):
        return _by_content(fm, target, local)
    raise NotAnArtifactError(
        f"{target} is outside the store (mirror {fm.mirror!r} is at {fm.base})"
        + ("" if os.path.exists(local) else ", and no such file is here"),
        kind="outside",
        subject=target,
    )


def _by_content(fm: FSMirror, target: str, local: str) -> Found:
    """A file outside the store (a downloaded copy): the artifact whose bytes hash the same."""
    from ..model.hashing import new_hasher
    from .inventory import committed

    everything = committed(fm)
    digests: dict[str, str] = {}
    for algorithm in sorted({c.manifest.hash.algorithm for c in everything}):
        try:
            h = new_hasher(algorithm)
        except FSMirrorError:
            continue
        with open(local, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digests[algorithm] = str(h.hexdigest())
    hits = [c for c in everything if digests.get(c.manifest.hash.algorithm) == c.manifest.hash.digest]
    if not hits:
        raise NotAnArtifactError(
            f"{target} is outside the store (mirror {fm.mirror!r} is at {fm.base}), and no committed "
            "artifact there has its content",
            kind="outside",
            subject=target,
        )
    return _one(fm, target, "content", hits, f"the content of {target}")


def _by_relative(fm: FSMirror, target: str) -> Found:
    rel = target.replace("\\", "/").strip("/")
    if any(p in ("", ".", "..") for p in rel.split("/")):
        raise ResolveError(f"{target!r} is not a path inside the store ('.', '..' or an empty part)")
    tried: list[str] = []
    for root in dict.fromkeys((fm.base, _tenant_root(fm))):
        path = f"{root.rstrip('/')}/{rel}" if root else rel
        tried.append(path)
        try:
            return _in_store(fm, target, path, "relative")
        except NotAnArtifactError as e:
            if e.kind != "missing":
                raise
    if os.path.exists(target):
        return _by_local_path(fm, target, os.path.abspath(target), "path")
    raise NotAnArtifactError(
        f"nothing at {' nor '.join(tried)}, and no local file {target!r}",
        kind="missing",
        subject=target,
    )


def _other_mirror(fm: FSMirror, path: str) -> str | None:
    st = fm.config.storage
    for name, m in fm.config.mirrors.items():
        if name != fm.mirror and _under(path, base_uri(st.provider, st.tenant, st.namespace, m.prefix)):
            base = base_uri(st.provider, st.tenant, st.namespace, m.prefix)
            if base != fm.base:
                return name
    return None


def _in_store(fm: FSMirror, target: str, path: str, form: str) -> Found:
    """Classify ``path`` (the store's spelling) and return its artifact, or raise saying what it is."""
    tenant = _tenant_root(fm)
    if not _under(path, tenant):
        raise NotAnArtifactError(
            f"{target} is outside the store's tenant ({tenant or '/'})", kind="outside", subject=target
        )
    below = path[len(tenant) :].lstrip("/") if tenant else path.lstrip("/")
    if below.split("/", 1)[0] in (names.LOCAL_SCRATCH, names.OBJECT_SCRATCH):
        raise NotAnArtifactError(
            f"{target} is in fsmirror's scratch space (temporary files, locks, backups), not an artifact",
            kind="scratch",
            subject=target,
        )
    if not _under(path, fm.base):
        other = _other_mirror(fm, path)
        if other is not None:
            raise NotAnArtifactError(
                f"{target} belongs to mirror {other!r}, not {fm.mirror!r}: choose that mirror",
                kind="other-mirror",
                subject=target,
                choices=(other,),
            )
        raise NotAnArtifactError(
            f"{target} is inside the tenant but outside mirror {fm.mirror!r} ({fm.base}): "
            "a file fsmirror did not write there",
            kind="foreign",
            subject=target,
        )
    directory, _, filename = path.rpartition("/")
    if names.in_run_index(path[len(fm.base) :]):
        entry = names.parse_index_entry(filename)
        run = f" naming run {entry[1]!r}" if entry else ""
        raise NotAnArtifactError(
            f"{target} is a run-index entry (a hint{run}, one per commit), not an artifact; "
            "`fsmirror runs ADDRESS` lists the runs",
            kind="run-index",
            subject=target,
        )
    kind, out = names.kind_of(filename)
    if kind == "pointer":
        raise NotAnArtifactError(
            f"{target} is the 'latest' pointer of {directory} (output {out!r}){_pointer_run(fm, path)}: "
            "a hint, not an artifact",
            kind="pointer",
            subject=target,
        )
    if kind == "manifest":
        _manifest_file(fm, target, path)
    if kind == "sidecar":
        raise NotAnArtifactError(
            f"{target} is an adapter's record beside the artifact {directory}/{out}.*, not an artifact",
            kind="sidecar",
            subject=target,
        )
    if kind == "bookkeeping":
        raise NotAnArtifactError(
            f"{target} is not an artifact: fsmirror never writes a file named {filename!r} "
            "(artifact names do not start with '_')",
            kind="foreign",
            subject=target,
        )
    try:
        found = fm.visible_at(path)
    except StorageError:  # a damaged cell (said below); a failing store fails again there
        found = None
    if found is not None:
        slot, man, _ = found
        return Found(target, form, slot.data(man.format), slot.manifest, man)
    _explain_uncommitted(fm, target, path, out)
    raise AssertionError("unreachable")  # pragma: no cover


def _pointer_run(fm: FSMirror, path: str) -> str:
    blob = fm.store.backend.get(path)
    if blob is None:
        return ""
    try:
        return f", naming run {json.loads(blob.data)['segment']!r}"
    except (ValueError, KeyError, TypeError):
        return " (damaged)"


def _manifest_file(fm: FSMirror, target: str, path: str) -> None:
    from ..model.record import Pending, parse_cell, visible_manifest

    blob = fm.store.backend.get(path)
    if blob is None:
        raise NotAnArtifactError(f"nothing at {target}", kind="missing", subject=target)
    try:
        cell = parse_cell(blob.data, path)
    except StorageError as e:
        raise NotAnArtifactError(str(e), kind="damaged", subject=target) from None
    man = visible_manifest(cell)
    if man is None:
        assert isinstance(cell, Pending)  # a manifest is always visible
        raise NotAnArtifactError(
            f"{target} is the state cell of a slot not committed yet (a {cell.kind} under way, "
            f"or one that died, by {cell.holder or 'an unknown writer'})",
            kind="pending",
            subject=target,
        )
    raise NotAnArtifactError(
        f"{target} is the manifest of {man.uri} ({man.address}, run {man.segment}): "
        "look up the artifact itself",
        kind="manifest",
        subject=target,
        choices=(man.uri,),
    )


def _explain_uncommitted(fm: FSMirror, target: str, path: str, out: str) -> None:
    from ..model.record import Manifest, Pending, parse_cell

    backend = fm.store.backend
    directory = path.rpartition("/")[0]
    cell_path = names.manifest_file(directory, out)
    inside = [s.path for s in backend.listing(path)]
    if inside:
        arts = [p for p in inside if names.kind_of(p.rsplit("/", 1)[-1])[0] == "artifact"]
        raise NotAnArtifactError(
            f"{target} is a directory ({len(arts)} data file(s) below it): "
            "`fsmirror ls` lists what is committed",
            kind="directory",
            subject=target,
        )
    if backend.head(path) is None:
        raise NotAnArtifactError(f"nothing at {path}", kind="missing", subject=target)
    blob = backend.get(cell_path)
    located = fm.resolver.locate(path)
    fits = (located[0].identity.address, located[0].identity.run_segment) if located else None
    if blob is None:
        if fits is not None:
            raise NotAnArtifactError(
                f"{target} is not committed: no manifest beside it, so it is the data of a write "
                f"of {fits[0]} (run {fits[1]!r}) that did not finish, or a file put there by hand",
                kind="uncommitted",
                subject=target,
            )
        raise NotAnArtifactError(
            f"{target} is a foreign file: fsmirror did not write it (no manifest beside it, and "
            f"its path fits no artifact of mirror {fm.mirror!r})",
            kind="foreign",
            subject=target,
        )
    try:
        cell = parse_cell(blob.data, cell_path)
    except StorageError as e:
        raise NotAnArtifactError(
            f"{target} is not committed: its manifest is damaged ({e})", kind="damaged", subject=target
        ) from None
    if isinstance(cell, Pending):
        raise NotAnArtifactError(
            f"{target} is not committed: its slot is pending (a {cell.kind} under way, or one that died)",
            kind="pending",
            subject=target,
        )
    if isinstance(cell, Manifest):
        try:
            slot = fm.resolver.slot_of(cell)
        except FSMirrorError:
            slot = None
        if slot is not None and slot.manifest == cell_path:
            committed = slot.data(cell.format)
            raise NotAnArtifactError(
                f"{target} is not the committed artifact of its slot: the manifest beside it "
                f"commits {committed}",
                kind="uncommitted",
                subject=target,
                choices=(committed,),
            )
    raise NotAnArtifactError(
        f"{target} is not committed: the manifest beside it names another artifact ({cell.uri}), "
        "so it was copied or tampered with",
        kind="damaged",
        subject=target,
    )

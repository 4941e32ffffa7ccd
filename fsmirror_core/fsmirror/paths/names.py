"""The names of every file fsmirror writes, in one place (pure functions, no I/O).

Nothing else builds a file name: the protocol, gc, the CLI and the adapters ask
here, so what gc removes is exactly what a write made, and a rename is one edit.

For one artifact (a *slot*: code, run, partition, output name) in directory ``<dir>``
and its *series* (the same slot without the run) in directory ``<series>``::

    <dir>/<output_name>.<format>              the artifact: plain bytes any reader opens
    <dir>/_<output_name>.manifest.json        the manifest: the commit marker (the slot's state cell)
    <dir>/_<output_name>.<kind>.json          an adapter's sidecar (e.g. ``prefect``), removed with the run
    <dir>/_<output_name>.pin.json             a pin (``fsmirror pin``): gc keeps the run while it stands
    <series>/_latest.<output_name>.json       local stores: the ``latest`` pointer (a verified hint)
    <series>/_runs.<output_name>/<entry>      object stores: the run index (hints; names sort newest first)

Scratch space never sits beside an artifact: ``<tenant>/.fsmirror/{tmp,locks,backup}``
on local disk, ``<tenant>/_fsmirror/backup`` on object stores.
"""

from __future__ import annotations

__all__ = [
    "MANIFEST_SUFFIX",
    "RESERVED_RUN_IDS",
    "artifact_file",
    "manifest_file",
    "sidecar_file",
    "pin_file",
    "PIN_KIND",
    "pointer_file",
    "index_dir",
    "index_entry",
    "parse_index_entry",
    "in_run_index",
    "INDEX_PREFIX",
    "is_bookkeeping",
    "kind_of",
    "LOCAL_SCRATCH",
    "OBJECT_SCRATCH",
]

MANIFEST_SUFFIX = ".manifest.json"
# ``read(run_id="latest")`` means the newest run: a run literally named so could be written but
# never read by its id, so it cannot be written at all.
RESERVED_RUN_IDS = frozenset({"latest"})
INDEX_PREFIX = "_runs."
LOCAL_SCRATCH = ".fsmirror"
OBJECT_SCRATCH = "_fsmirror"
_INVERT = 10**17 - 1  # microseconds since 1970 stay below 10**17 until the year 5138


def artifact_file(directory: str, output_name: str, ext: str) -> str:
    """``<dir>/<output_name>.<ext>``."""
    return f"{directory}/{output_name}.{ext}"


def manifest_file(directory: str, output_name: str) -> str:
    """``<dir>/_<output_name>.manifest.json``: the leading underscore hides it from dataset readers."""
    return f"{directory}/_{output_name}{MANIFEST_SUFFIX}"


def sidecar_file(directory: str, output_name: str, kind: str) -> str:
    """``<dir>/_<output_name>.<kind>.json``: an adapter's record beside the artifact, gc'd with it."""
    if not kind.isidentifier() or kind in ("manifest", PIN_KIND):
        raise ValueError(f"sidecar kind {kind!r} must be an identifier other than 'manifest' and 'pin'")
    return f"{directory}/_{output_name}.{kind}.json"


#: The sidecar kind of a pin: fsmirror's own, so no adapter may take it (``sidecar_file`` refuses it).
PIN_KIND = "pin"


def pin_file(directory: str, output_name: str) -> str:
    """``<dir>/_<output_name>.pin.json``: a pin on the run, a sidecar gc re-reads before it deletes."""
    return f"{directory}/_{output_name}.{PIN_KIND}.json"


def pointer_file(series: str, output_name: str) -> str:
    """``<series>/_latest.<output_name>.json``."""
    return f"{series}/_latest.{output_name}.json"


def index_dir(series: str, output_name: str) -> str:
    """``<series>/_runs.<output_name>``: one entry per commit, listed newest first."""
    return f"{series}/{INDEX_PREFIX}{output_name}"


def index_entry(created_us: int, segment: str) -> str:
    """An entry's name: the inverted commit time (so a plain listing is newest first), then the run.

    Ties (one microsecond) list by segment; :func:`fsmirror.record.order_key` breaks them the same way.
    """
    return f"{_INVERT - created_us:017d}.{segment}"


def parse_index_entry(name: str) -> tuple[int, str] | None:
    """(created_us, segment) from an entry name, or None for anything that is not one."""
    head, dot, segment = name.partition(".")
    if not dot or len(head) != 17 or not head.isdigit() or not segment:
        return None
    return _INVERT - int(head), segment


def in_run_index(path: str) -> bool:
    """Whether a path is a run index entry (object stores' hint files, one per commit)."""
    return f"/{INDEX_PREFIX}" in "/" + path


def is_bookkeeping(filename: str) -> bool:
    """Whether a file name is fsmirror's own (manifest, sidecar, pointer) rather than an artifact."""
    return filename.startswith("_")


def kind_of(filename: str) -> tuple[str, str]:
    """What one of fsmirror's file names is, and the output name it belongs to: the inverse of the above.

    ``("manifest" | "pointer" | "sidecar" | "artifact" | "bookkeeping", output_name)``;
    ``bookkeeping`` is an underscore name fsmirror never makes (so not its own), ``artifact``
    any other name (whether one was committed there only its manifest can say). Run index
    entries are told by their directory (:func:`in_run_index`), not their name.
    """
    if filename.startswith("_latest.") and filename.endswith(".json"):
        out = filename[len("_latest.") : -len(".json")]
        return ("pointer", out) if out else ("bookkeeping", "")
    if filename.startswith("_") and filename.endswith(MANIFEST_SUFFIX):
        out = filename[1 : -len(MANIFEST_SUFFIX)]
        return ("manifest", out) if out else ("bookkeeping", "")
    if filename.startswith("_") and filename.endswith(".json"):
        out, dot, kind = filename[1 : -len(".json")].rpartition(".")
        return ("sidecar", out) if dot and out and kind.isidentifier() else ("bookkeeping", "")
    if is_bookkeeping(filename):
        return "bookkeeping", ""
    return "artifact", filename.rpartition(".")[0] or filename

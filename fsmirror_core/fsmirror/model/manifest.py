"""The manifest: a small JSON record beside each artifact saying what made it.

It is also the commit marker: an artifact without its manifest is not there.
Source hashes and git state are computed once per file per process, so a task
writing many artifacts pays for them once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..paths import names
from ..paths.address import CodeAddress
from ..paths.identity import Instance
from .fingerprint import code_version, project_root
from .record import MANIFEST_VERSION, ContentHash, DataTime, Manifest, check_jsonable, utcnow

__all__ = [
    "MANIFEST_VERSION",
    "build_manifest",
    "source_info",
    "git_blob_id",
    "git_info",
    "manifest_name",
    "utcnow",
]


def manifest_name(output_name: str) -> str:
    """The manifest's file name (owned by :mod:`fsmirror.names`)."""
    return names.manifest_file("", output_name)[1:]


@functools.lru_cache(maxsize=1024)
def _file_sha256(path: str, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=1024)
def _file_git_blob(path: str, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def git_blob_id(source_file: str | None) -> str | None:
    """The git blob id of a file's bytes, as ``git hash-object`` computes it (sha1 of header + bytes).

    A sha256 of the file finds nothing in git; the blob id does, even when the manifest
    recorded no commit: ``git log --all --find-object=<blob>`` lists the commits that hold
    exactly this source. (Git's clean filters, such as ``core.autocrlf`` or LFS, store other
    bytes than the working copy's; then the ids differ.) Cached per file and mtime.
    """
    if not source_file:
        return None
    try:
        return _file_git_blob(source_file, os.stat(source_file).st_mtime_ns)
    except OSError:
        return None


def source_info(address: CodeAddress) -> tuple[str | None, str | None]:
    """(file path, sha256) of the code's source file when it exists on this machine."""
    path = "/".join(address.file_parts)
    if address.file_parts and not os.path.isabs(path) and os.path.isabs(os.sep + path):
        candidates = [os.sep + path, path]
    else:
        candidates = [path]
    for cand in candidates:
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if os.path.isfile(cand):
            return cand, _file_sha256(cand, st.st_mtime_ns)
    return None, None


@functools.lru_cache(maxsize=256)
def _git_for_dir(directory: str) -> dict[str, Any] | None:
    d = Path(directory)
    for cand in (d, *d.parents):
        if (cand / ".git").exists():
            top = cand
            break
    else:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(top), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        commit = out.stdout.strip() if out.returncode == 0 else None
        st = subprocess.run(
            ["git", "-C", str(top), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = bool(st.stdout.strip()) if st.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
    if commit is None:
        return None
    return {"commit": commit, "dirty": dirty}


def git_info(source_file: str | None) -> dict[str, Any] | None:
    """The git commit and dirty flag of the checkout holding ``source_file``, if any."""
    if not source_file:
        return None
    return _git_for_dir(os.path.dirname(os.path.abspath(source_file)))


def build_manifest(
    *,
    address: CodeAddress,
    module: str,
    mirror: str,
    uri: str,
    run_id: Any,
    run_segment: str,
    run_source: str,
    orchestrator: Mapping[str, Any] | None,
    fmt: str,
    requested_format: str,
    fell_back: bool,
    python_type: str,
    partition: Instance | None,
    output_name: str,
    hash_algorithm: str,
    attempt: int = 0,
    data_time: DataTime | None = None,
) -> Manifest:
    """The manifest record, validated before any byte is written; size and hash are filled at commit."""
    from .._version import __version__

    orch = dict(orchestrator or {})
    check_jsonable(orch, "the orchestrator record")
    check_jsonable(list(run_id) if isinstance(run_id, tuple) else run_id, "the run id")
    source_file, source_sha = source_info(address)
    version = code_version(
        source_file,
        address.definition or address.qualname,
        project_root(source_file, module) if source_file else None,
    )
    parts = module.split("/")
    return Manifest(
        uri=uri,
        mirror=mirror,
        code={
            "address": str(CodeAddress((*parts[:-1], parts[-1] + ".py"), address.qualname)),
            "module": module,
            "qualname": address.qualname,
            "source_file": source_file,
            "source_sha256": source_sha,
            "source_git_blob": git_blob_id(source_file),
            "fingerprint": version.fingerprint,  # code versions: fsmirror.fingerprint, docs/provenance.md
            "fingerprint_self": version.fingerprint_self,
            "imports": dict(version.imports),
            # the code fingerprinted when it is not the qualname (a task nested in a DAG function)
            **({"definition": address.definition} if address.definition else {}),
        },
        git=git_info(source_file),
        run_id=run_id,
        segment=run_segment,
        run_source=run_source,
        orchestrator=orch,
        partition=partition,
        output_name=output_name,
        format=fmt,
        requested_format=requested_format,
        fell_back=fell_back,
        python_type=python_type,
        size=0,
        hash=ContentHash(hash_algorithm, ""),
        created_at="",
        versions={"fsmirror": __version__, "python": platform.python_version()},
        writer={"host": socket.gethostname(), "pid": os.getpid()},
        attempt=attempt,
        data_time=data_time or None,
    )

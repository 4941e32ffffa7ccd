"""The adapters' toolkit (``fsmirror.integration``): one fork-safe mirror per config, errors in context."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from fsmirror import FSMirror, NotAnArtifactError, ResolveError
from fsmirror.integration import clear_mirrors, in_context, mirror_for


def _config(path: Path, root: str = "project", fmt: str = "parquet") -> Path:
    path.write_text(
        f"storage: {{provider: local, tenant: {path.parent / 'store'}}}\n"
        f"mirrors: {{m: {{root: {root}, output_format: {fmt}}}, other: {{root: {root}}}}}\n"
    )
    return path


def test_one_mirror_per_config_file_and_mirror(tmp_path: Path) -> None:
    clear_mirrors()
    cfg = _config(tmp_path / "a.yml")
    fm = mirror_for(cfg, "m")
    assert isinstance(fm, FSMirror) and fm.mirror == "m"
    assert mirror_for(str(cfg), "m") is fm  # a str or a PathLike, the same file
    assert mirror_for(cfg, "other") is not fm and mirror_for(cfg, "other").mirror == "other"


def test_an_edited_config_is_read_again(tmp_path: Path) -> None:
    clear_mirrors()
    cfg = _config(tmp_path / "a.yml")
    before = mirror_for(cfg, "m")
    time.sleep(0.01)
    _config(cfg, fmt="json")
    os.utime(cfg, ns=(time.time_ns(), time.time_ns() + 10**9))
    after = mirror_for(cfg, "m")
    assert after is not before and after.settings.output_format == "json"


def test_settings_override_the_mirror_without_editing_the_file(tmp_path: Path) -> None:
    clear_mirrors()
    cfg = _config(tmp_path / "a.yml")
    fm = mirror_for(cfg, "m", settings={"output_format": "json"})
    assert fm.settings.output_format == "json" and fm.source == str(cfg)
    assert mirror_for(cfg, "m").settings.output_format == "parquet"
    assert "output_format: parquet" in cfg.read_text()


def _child_gets_a_new_mirror(cfg: str, parent_id: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(id(mirror_for(cfg, "m")) != parent_id)


def test_a_forked_child_builds_its_own_mirror(tmp_path: Path) -> None:
    """fsspec's async filesystems refuse to run in a fork child: the cache starts empty there."""
    clear_mirrors()
    cfg = _config(tmp_path / "a.yml")
    fm = mirror_for(cfg, "m")
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_gets_a_new_mirror, args=(str(cfg), id(fm), q))
    p.start()
    p.join(30)
    assert p.exitcode == 0 and q.get(timeout=5) is True
    assert mirror_for(cfg, "m") is fm  # the parent's cache is untouched


def test_errors_in_context_keep_their_type_and_kind() -> None:
    e = NotAnArtifactError("nothing at x", kind="missing", subject="x", choices=("a",))
    got = in_context(e, "luigi task T(day=1)")
    assert type(got) is NotAnArtifactError and str(got) == "luigi task T(day=1): nothing at x"
    assert (got.kind, got.subject, got.choices) == ("missing", "x", ("a",))
    with pytest.raises(ResolveError, match=r"^dagster step s: bad$"):
        raise in_context(ResolveError("bad"), "dagster step s")

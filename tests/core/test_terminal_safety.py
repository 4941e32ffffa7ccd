"""Store content reaches the terminal as data: no markup, no escape sequences, no crash.

Hostile names are written into a real local store (through the API where it takes them, by
hand where it now refuses them: a directory renamed, manifest fields edited), then the
installed CLI prints them. Runs use click's runner with colour kept (``color=True``: click
would otherwise strip CSI sequences and hide the bug) and rich's terminal forced
(``FORCE_COLOR``), and one run is a real process on a pseudo-terminal, so every place that
renders markup or passes an escape would do so here.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.errors import ResolveError
from fsmirror.paths.layout import check_segment

OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # write "Hello" to the clipboard
ERASE = "\x1b[2K\r"  # erase the line, back to its start
OSC8 = "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07"  # a hyperlink
CSI_C1 = "\x9b2K"  # C1 CSI: erase line on terminals that take 8-bit controls
RLO = "\u202e"  # right-to-left override


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        f"storage: {{provider: local, tenant: {tmp_path / 'store'}}}\n"
        "mirrors:\n  project: {root: project, output_format: json}\n"
    )
    return cfg


def _run(cfg: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in-process, with a terminal forced on rich and ANSI kept by click."""
    res = CliRunner().invoke(
        cli,
        ["--config", str(cfg), *args],
        prog_name="fsmirror",
        color=True,
        env={"FORCE_COLOR": "1", "COLUMNS": "200", "NO_COLOR": None, "TERM": "xterm-256color"},
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"fsmirror {' '.join(args)} raised {res.exception!r}\n{res.output}")
    return res.exit_code, res.stdout, res.stderr


# What a terminal acts on: C0 (but the newline between lines), DEL, C1, bidi controls, separators.
UNSAFE = {chr(o) for o in (*range(0x20), *range(0x7F, 0xA0))} - {"\n"}
UNSAFE |= set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def _no_controls(out: str) -> None:
    bad = sorted({c for c in out if c in UNSAFE})
    assert not bad, f"control characters reached the terminal: {bad!r}\n{out!r}"


def _edit_manifest(uri: str, edit: Any) -> None:
    path = Path(uri).parent / f"_{Path(uri).stem}.manifest.json"
    man = json.loads(path.read_text())
    edit(man)
    path.write_text(json.dumps(man, indent=1, sort_keys=True))


def _strip_sgr(out: str) -> str:
    """The text of rich's own styling (SGR: ESC [ ... m), which is ours, not the store's."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", out)


# -- the sanitiser ----------------------------------------------------------------------------------


def test_visible_escapes_every_control_and_leaves_the_rest() -> None:
    from fsmirror.cli.safe import UNSAFE as ESCAPED
    from fsmirror.cli.safe import text, visible

    assert UNSAFE <= ESCAPED
    assert visible(OSC52 + ERASE) == "\\x1b]52;c;SGVsbG8=\\x07\\x1b[2K\\x0d"
    assert visible(CSI_C1 + RLO + "\x7f\udcff\u2028") == "\\x9b2K\\u202e\\x7f\\udcff\\u2028"
    assert visible("[bold]é ü 日本 ~41 @ / \\") == "[bold]é ü 日本 ~41 @ / \\"
    assert visible("a\nb\tc") == "a\\x0ab\\x09c"  # one line stays one line
    assert text("[link=https://evil.example/]x[/x]").plain == "[link=https://evil.example/]x[/x]"
    assert text("[bold]x").spans == []  # never markup


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x80", "\x9b", "\x9f"])
def test_a_segment_refuses_c0_del_and_c1_controls(char: str) -> None:
    with pytest.raises(ResolveError, match="control character"):
        check_segment(f"run{char}x", "module directory")
    check_segment("run\xa0x", "module directory")  # U+00A0 is a printable (no-break) space


def test_the_api_refuses_a_module_directory_with_a_c1_control(tmp_path: Path) -> None:
    fm = FSMirror(_config(tmp_path))
    with pytest.raises(ResolveError, match="control character"):
        fm.write(f"project/a{CSI_C1}/m.py::task", {"x": 1}, run_id="r1")
    assert not (tmp_path / "store" / "project" / f"a{CSI_C1}").exists()


# -- ls ---------------------------------------------------------------------------------------------


def _markup_store(tmp_path: Path) -> Path:
    cfg = _config(tmp_path)
    fm = FSMirror(cfg)
    fm.write("project/[bold]/m.py::task", {"x": 1}, run_id="r1")
    fm.write("project/[link=https:evil.example]x/m.py::task", {"x": 1}, run_id="r1")
    fm.write("project/[~x]/m.py::task", {"x": 1}, run_id="r1", partition="[/x]")
    return cfg


def test_ls_shows_directory_names_that_look_like_markup_as_they_are(tmp_path: Path) -> None:
    cfg = _markup_store(tmp_path)
    code, out, err = _run(cfg, "ls")
    assert code == 0 and err == "", err
    assert "\x1b]8;" not in out  # no OSC 8 hyperlink chosen by a directory name
    lines = [line.rstrip() for line in _strip_sgr(out).splitlines()]
    assert lines[0] == f"{tmp_path / 'store'}  (mirror 'project')"
    # exactly the names on disk, brackets and all (rich would have eaten '[bold]' as a style)
    assert [line.split("──", 1)[-1].strip() for line in lines if "project/" in line] == [
        "project/[bold]/m",
        "project/[link=https:evil.example]x/m",
        "project/[~x]/m",
    ]
    assert any(line.strip().endswith("task partition [/x]  1 run(s)") for line in lines), lines


def _escaped_dir_store(tmp_path: Path) -> tuple[Path, Path]:
    """A directory renamed by hand to hold ESC and C1 sequences (the API refuses such a name)."""
    cfg = _config(tmp_path)
    fm = FSMirror(cfg)
    uri = fm.write("project/plain/m.py::task", {"x": 1}, run_id="r1")
    store = tmp_path / "store" / "project"
    hostile = f"evil{OSC52}{CSI_C1}{RLO}"
    (store / "plain").rename(store / hostile)

    def edit(man: dict[str, Any]) -> None:
        man["uri"] = man["uri"].replace("/plain/", f"/{hostile}/")
        man["code"]["module"] = f"project/{hostile}/m"
        man["code"]["address"] = f"project/{hostile}/m.py::task"

    moved = str(uri).replace("/plain/", f"/{hostile}/")
    _edit_manifest(moved, edit)
    return cfg, Path(moved).parent / "_out.manifest.json"


def test_ls_names_a_hand_made_name_with_escapes_as_visible_text(tmp_path: Path) -> None:
    # The catalog skips a cell whose recorded address the grammar refuses (no fsmirror write can
    # make one); the warning that says so names it, and names it as visible text.
    cfg, _ = _escaped_dir_store(tmp_path)
    code, out, err = _run(cfg, "ls")
    assert code == 0, err
    _no_controls(_strip_sgr(out))
    _no_controls(_strip_sgr(err))
    assert "evil" not in out, out
    assert err.startswith("fsmirror: warning: StoreWarning: skipping "), err
    assert "project/evil\\x1b]52;c;SGVsbG8=\\x07\\x9b2K\\u202e/m.py::task" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_warning_naming_a_damaged_file_is_one_visible_line(tmp_path: Path) -> None:
    cfg, manifest = _escaped_dir_store(tmp_path)
    manifest.write_text("{not json")
    # a real process: Python's own warning printer, not pytest's capture, decides what stderr gets
    proc = subprocess.run(
        [sys.executable, "-m", "fsmirror.cli", "--config", str(cfg), "ls"],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    _no_controls(err)
    assert len(err.splitlines()) == 1 and err.startswith("fsmirror: warning: StoreWarning: "), err
    assert "/evil\\x1b]52;c;SGVsbG8=\\x07\\x9b2K\\u202e/m/r1/task/_out.manifest.json" in err, err


def test_ls_on_a_real_pseudo_terminal_renders_no_markup_from_the_store(tmp_path: Path) -> None:
    """A real process whose stdout is a terminal (rich detects it and renders markup there)."""
    cfg = _markup_store(tmp_path)
    out = _on_a_pty([sys.executable, "-m", "fsmirror.cli", "--config", str(cfg), "ls"])
    assert "\x1b]8;" not in out, out  # no hyperlink
    plain = _strip_sgr(out)
    assert "project/[bold]/m" in plain and "project/[link=https:evil.example]x/m" in plain, plain
    assert "partition [/x]" in plain, plain
    _no_controls(plain.replace("\r", ""))


def _on_a_pty(argv: list[str]) -> str:
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    assert proc.returncode == 0, b"".join(chunks).decode("utf-8", "replace")
    return b"".join(chunks).decode("utf-8", "replace")


# -- runs, show, lineage ------------------------------------------------------------------------------


def _hostile_manifest_store(tmp_path: Path) -> tuple[Path, str]:
    cfg = _config(tmp_path)
    fm = FSMirror(cfg)
    run_id = f"r{OSC52}"  # the API takes any run id: it is encoded into its segment
    uri = fm.write(
        "project/etl/m.py::task",
        {"x": 1},
        run_id=run_id,
        orchestrator={"name": "dagster", "run_id": run_id, "job_name": f"[bold]{ERASE}"},
    )

    def edit(man: dict[str, Any]) -> None:
        man["code"]["source_file"] = f"/src/{OSC8}.py"
        man["python_type"] = f"{RLO}fdp.exe"
        man["inputs"] = [
            {
                "uri": f"/elsewhere/{ERASE}in.json",
                "address": f"project/in.py::{OSC52}up",
                "run": f"r{CSI_C1}",
                "output_name": "out",
                "partition": None,
                "hash": {"algorithm": "blake3", "digest": "ab" * 32},
                "created_at": "2026-12-01T00:00:00+00:00",
            }
        ]

    _edit_manifest(str(uri), edit)
    return cfg, fm.run_segment(run_id)


def test_show_prints_run_ids_sources_and_inputs_with_escapes_visible(tmp_path: Path) -> None:
    cfg, segment = _hostile_manifest_store(tmp_path)
    code, out, err = _run(cfg, "show", "project/etl/m.py::task")
    assert code == 0 and err == "", err
    _no_controls(out)
    rows = dict(line.split("  ", 1) for line in out.splitlines() if line and not line.startswith(" "))
    assert rows["orchestrator"].strip() == (
        "name=dagster  run_id=r\\x1b]52;c;SGVsbG8=\\x07  job_name=[bold]\\x1b[2K\\x0d"
    )
    assert rows["run"].strip() == f"{segment} (from argument)"
    assert rows["source"].strip() == "/src/\\x1b]8;;https://evil.example/\\x07click\\x1b]8;;\\x07.py"
    assert rows["python type"].strip() == "\\u202efdp.exe"
    assert out.splitlines()[-1].strip() == (
        "project/in.py::\\x1b]52;c;SGVsbG8=\\x07up run r\\x9b2K  blake3:abababababab"
    )


def test_runs_and_lineage_print_the_same_text_visible(tmp_path: Path) -> None:
    cfg, segment = _hostile_manifest_store(tmp_path)
    code, out, err = _run(cfg, "runs", "project/etl/m.py::task")
    assert code == 0 and err == "" and out.startswith(f"{segment}  "), out
    _no_controls(out)
    code, out, err = _run(cfg, "lineage", "project/etl/m.py::task")
    assert code == 0 and err == "", err
    _no_controls(out)
    lines = out.splitlines()
    assert lines[1] == (
        "└── project/in.py::\\x1b]52;c;SGVsbG8=\\x07up [r\\x9b2K]  /elsewhere/\\x1b[2K\\x0din.json"
        "  (gone: no committed artifact there now)"
    ), lines
    code, out, err = _run(cfg, "lineage", "project/etl/m.py::task", "--mermaid")
    assert code == 0 and err == ""
    _no_controls(out)
    assert '["project/in.py::\\x1b]52;c;SGVsbG8=\\x07up<br/>r\\x9b2K<br/>(gone)"]' in out, out


def test_an_error_naming_store_content_is_one_visible_line(tmp_path: Path) -> None:
    """``show`` of a manifest file names the artifact's URI, read from the store, in its error."""
    cfg, manifest = _escaped_dir_store(tmp_path)
    code, out, err = _run(cfg, "show", str(manifest))
    assert code == 1 and out == ""
    _no_controls(err)
    assert len(err.splitlines()) == 1 and err.startswith("fsmirror: error: "), err
    assert "/evil\\x1b]52;c;SGVsbG8=\\x07\\x9b2K\\u202e/m/r1/task/out.json" in err, err


# -- --run-id and --partition that no encoding gives --------------------------------------------------


@pytest.mark.parametrize("option", ["--run-id", "--partition"])
@pytest.mark.parametrize("value", ["~FF", "é~41", "a@~C3"])
def test_a_run_or_partition_argument_that_is_no_segment_is_a_usage_error(
    tmp_path: Path, option: str, value: str
) -> None:
    cfg = _markup_store(tmp_path)
    for command in ("show", "lineage"):
        code, out, err = _run(cfg, command, "project/[bold]/m.py::task", option, value)
        assert code == 2 and out == "", (command, err)
        assert err == (
            f"fsmirror: error: Invalid value for '{option}': {value.split('@')[-1]!r} is not a run or partition segment "
            "as fsmirror writes them: its ~XX escapes must spell UTF-8 and the rest be ASCII; give the "
            f"segment as `fsmirror runs` or `ls` prints it (see 'fsmirror {command} --help')\n"
        ), err

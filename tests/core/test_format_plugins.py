"""Format plugins (entry-point group ``fsmirror.formats``): one that fails to import breaks only itself.

The plugins are real entry points: a distribution's ``.dist-info`` (METADATA and
``entry_points.txt``) on ``sys.path``, found by ``importlib.metadata`` as an installed
package is. One names a module that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import fsmirror.model.formats as formats
from fsmirror import FormatError, FSMirror

PLUGIN = '''\
import json


class UpperFormat:
    """Text, stored upper-cased: a plugin format as a third party would ship it."""

    name = "upper"

    def accepts(self, value):
        return isinstance(value, str)

    def dump(self, value, f):
        f.write(value.upper().encode())

    def load(self, f, meta):
        return f.read().decode()
'''


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution offering two formats: ``broken`` (its module is missing) listed first, then ``upper``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fsmirror_fmt_upper.py").write_text(PLUGIN)
    info = site / "fsmirror_fmt_upper-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fsmirror-fmt-upper\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[fsmirror.formats]\nbroken = fsmirror_fmt_missing:Format\nupper = fsmirror_fmt_upper:UpperFormat\n"
    )
    monkeypatch.syspath_prepend(str(site))
    # this process's registry as it was before any plugin loaded, restored afterwards
    monkeypatch.setattr(formats, "_registry", dict(formats._registry))
    monkeypatch.setattr(formats, "_broken", {}, raising=False)
    monkeypatch.setattr(formats, "_entry_points_loaded", False, raising=False)
    yield site


def _mirror(tmp_path: Path, output_format: str = "json") -> FSMirror:
    return FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
            "mirrors": {"project": {"root": "project", "output_format": output_format}},
        }
    )


def test_a_broken_plugin_names_itself_and_the_others_still_work(plugins: Path, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"format plugin 'broken' \(fsmirror_fmt_missing:Format") as info:
        formats.get_format("broken")
    # the other plugin of the same group, asked for after the failure, loads and works for real
    fm = _mirror(tmp_path)
    uri = fm.write("project/etl/m.py::task", "hello", run_id="r1", format="upper")
    assert uri.endswith("/r1/task/out.upper")
    assert Path(uri).read_bytes() == b"HELLO"
    assert fm.read("project/etl/m.py::task", run_id="r1") == "HELLO"
    assert fm.manifest("project/etl/m.py::task")["format"] == "upper"
    assert info.value.kind == "broken-plugin"
    assert "No module named 'fsmirror_fmt_missing'" in str(info.value)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    # the built-ins too; and the broken one keeps saying why, not "unknown"
    assert formats.get_format("json").name == "json"
    with pytest.raises(FormatError, match="format plugin 'broken'"):
        fm.write("project/etl/m.py::task", "x", run_id="r2", format="broken")
    assert not fm.exists("project/etl/m.py::task", run_id="r2")


def test_an_unknown_format_lists_the_plugins_and_config_check_says_which_is_broken(
    plugins: Path, tmp_path: Path
) -> None:
    with pytest.raises(FormatError, match="unknown format 'uper'") as info:
        formats.get_format("uper")
    known = str(info.value).split("known: ", 1)[1]
    assert "broken" in known and "upper" in known and "json" in known
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        f"storage: {{provider: local, tenant: {tmp_path / 'store'}}}\n"
        "mirrors:\n  a: {root: project, output_format: broken}\n  b: {root: project, output_format: upper}\n"
    )
    from fsmirror.cli import cli

    res = CliRunner().invoke(cli, ["--json", "config", "check", str(cfg)])
    checks = {c["check"]: c for c in __import__("json").loads(res.output)["checks"]}
    assert checks["mirrors.b.output_format"]["ok"] is True
    assert checks["mirrors.a.output_format"]["ok"] is False
    assert checks["mirrors.a.output_format"]["detail"].startswith(
        "format plugin 'broken' (fsmirror_fmt_missing:Format, entry point group 'fsmirror.formats') "
        "failed to load: ModuleNotFoundError: No module named 'fsmirror_fmt_missing'"
    )

"""A store written before ``write(partition=7)`` was refused: ``7`` and ``"7"`` are one partition (issue #22, 4).

Older writers recorded an ``int`` partition as a JSON number. The model reads a manifest's
partition (and an input's) as its string, in one place (``instance_from_json``), so listings,
reads, lineage and staleness see one series ``7`` holding both runs. The manifests here are
made by hand: fsmirror no longer writes a number.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.services.staleness import staleness
from storage.promises_support import cli_config

T = "project/etl/parts.py::T"
U = "project/etl/parts.py::U"
# Written from the source file itself, so each manifest records its code version (fingerprint)
WRITE_T, WRITE_U = f"src/{T}", f"src/{U}"
SOURCE = "def T():\n    return 1\n\n\ndef U():\n    return 2\n"


def as_legacy(uri: str) -> None:
    """Rewrite the manifest beside ``uri`` as an older writer left it: partitions as JSON numbers."""
    cell = Path(uri).parent / "_out.manifest.json"
    record = json.loads(cell.read_text())
    if record.get("partition") == "7":
        record["partition"] = 7
    for i in record.get("inputs") or []:
        if i.get("partition") == "7":
            i["partition"] = 7
    cell.write_text(json.dumps(record))


def test_a_legacy_int_partition_is_its_string_everywhere(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src/project/etl").mkdir(parents=True)
    (tmp_path / "src/project/etl/parts.py").write_text(SOURCE)
    config = {
        "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
        "mirrors": {"project": {"root": "project", "output_format": "json"}},
    }
    fm = FSMirror(config)
    r1 = fm.write(WRITE_T, {"run": "r1"}, run_id="r1", partition="7")
    u1 = fm.write(WRITE_U, {"from": "r1"}, run_id="u1", inputs=[r1])
    fm.write(WRITE_T, {"run": "r2"}, run_id="r2", partition="7")
    as_legacy(r1)
    as_legacy(u1)
    assert json.loads((Path(r1).parent / "_out.manifest.json").read_text())["partition"] == 7

    after = FSMirror(config)
    assert after.runs(T, partition="7") == ["r1", "r2"]
    assert after.read(T, partition="7", run_id="r1") == {"run": "r1"}
    assert after.manifest(T, partition="7", run_id="r1")["partition"] == "7"

    result = CliRunner().invoke(cli, ["--config", str(cli_config(after, tmp_path)), "ls", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    rows = [(r["qualname"], r["partition"], r["segment"], r["latest"]) for r in json.loads(result.stdout)]
    assert rows == [("T", "7", "r1", False), ("U", None, "u1", True), ("T", "7", "r2", True)]
    tree = CliRunner().invoke(cli, ["--config", str(cli_config(after, tmp_path)), "ls"])
    assert tree.exit_code == 0 and "T partition 7  2 run(s)" in tree.stdout, tree.output

    judged = {s.address: s.reasons for s in staleness(after, source_root=str(tmp_path / "src"))}
    assert judged == {
        T: (),
        U: ("input project/etl/parts.py::T partition 7 has a newer run r2 (made from r1)",),
    }

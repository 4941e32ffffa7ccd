"""Merge every ``results-*.json`` (pytest-benchmark's JSON) into one Markdown table of ratios.

Each benchmark carries ``extra_info`` with ``row``, ``role`` (``fsmirror`` or
``baseline``), ``case`` and ``target``; a case's two roles become one line.
Rows that are not a timing carry their figures in ``extra_info["samples"]``
(with ``unit``); everything else uses pytest-benchmark's own statistics.
The hand-written analysis between the ``notes`` markers of an existing
results file survives a re-merge, so re-running never loses the explanations.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ROWS", "Line", "collect", "render", "merge", "machine", "requests_verdict"]

HERE = Path(__file__).resolve().parent
NOTES_START, NOTES_END = "<!-- notes: kept across re-merges -->", "<!-- /notes -->"

# The table: what each row measures, its baseline and target, and who fills it.
ROWS: dict[int, tuple[str, str, str, str]] = {
    1: ("`mirror_full_output(fn)` repeated", "fsmirror 0.4 from PyPI, same call", ">= 5x faster", "core"),
    2: ('`python -c "import fsmirror"` wall', '`python -c "import yaml"`', "<= 1.5x", "core"),
    3: (
        "`write` of a 100 MB parquet table, local and S3",
        "`pyarrow.parquet.write_table`",
        "<= 1.10x",
        "core",
    ),
    4: ("`read` of the same", "`pyarrow.parquet.read_table`", "<= 1.05x", "core"),
    5: ("`latest()` with 10,000 runs, local and S3", "`latest()` with 10 runs", "<= 1.2x", "core"),
    6: ("the same lookup", "Kedro versioned dataset, 10,000 versions", "faster", "core"),
    7: ("peak RSS writing a 1 GB bytes artifact", "the payload size", "<= payload + 100 MB", "core"),
    8: ("8 processes x 100 small artifacts to S3", "raw s3fs `pipe`", ">= 0.9x throughput", "core"),
    9: (
        "Dagster materialization, small and 100 MB",
        "Dagster `FilesystemIOManager`",
        "<= 1.3x / <= 1.1x",
        "dagster",
    ),
    10: ("Prefect task result persist", "Prefect `LocalFileSystem` result storage", "<= 1.2x", "prefect"),
    11: ("Airflow XCom push + pull", "Airflow `XComObjectStorageBackend`", "<= 1.2x", "airflow"),
    12: ("Luigi `complete()` over 1,000 done tasks", "`luigi.LocalTarget`", "<= 1.5x", "luigi"),
    # Issue #12 (store v2): the commit protocol's requests and round trips (bench_protocol.py, row 17 Dagster).
    13: (
        "S3 requests per store operation (moto), by S3 operation",
        "the request targets of #12",
        "per operation (table below)",
        "core",
    ),
    14: ("small `write` to S3 through a 15 ms latency proxy", "raw s3fs `pipe_file`", "<= 2.2x", "core"),
    15: (
        "8 processes writing distinct runs to S3, through the proxy",
        "raw s3fs `pipe_file`",
        ">= 0.45x throughput",
        "core",
    ),
    16: ("the same, moto directly", "raw s3fs `pipe_file`", ">= 0.33x throughput", "core"),
    17: (
        "Dagster `handle_output` of a small value to S3, through the proxy",
        "dagster-aws `S3PickleIOManager`",
        "<= 2.2x",
        "dagster",
    ),
    18: ("blake3 of 100 MB in memory", "`hashlib.sha256`", "faster", "core"),
    19: (
        "`read` of a 100 MB parquet table re-hashing its bytes, local and S3",
        "`read` today (no re-hash)",
        "<= 1.10x",
        "core",
    ),
    20: (
        "small local `write` in a step, OpenLineage events sent (client's file transport) and flushed",
        "the same with OpenLineage off",
        "<= 1.05x",
        "openlineage",
    ),
    # Issue #15: the command as a person uses it (bench_catalog.py).
    21: (
        "`fsmirror ls` over 1,000 artifacts on S3, through the proxy",
        "raw s3fs `find` + one `gather` of GetObject of the manifests",
        "<= 2x",
        "core",
    ),
}
REQUEST_ROW = 13
PROTOCOL_ROWS = range(13, 20)  # what "Before store v2" keeps
BEFORE_V2 = HERE / "before-v2"  # frozen JSON of the 1.0 protocol's run, and about.json (how it was made)


@dataclass
class Side:
    """One role of a case: its centre, spread and unit."""

    median: float
    spread: float
    unit: str  # "s" for timings
    rounds: int
    info: Mapping[str, Any]


@dataclass
class Line:
    """One case of one row: both sides, the ratio and the verdict."""

    row: int
    case: str
    measurement: str
    baseline_name: str
    target: str
    source: str
    sides: dict[str, Side] = field(default_factory=dict)
    note: str = ""

    @property
    def higher_is_better(self) -> bool:
        return any(bool(s.info.get("higher_is_better")) for s in self.sides.values())

    def ratio(self) -> float | None:
        """fsmirror / baseline; where the bench also alternated the two sides round by round in
        one process (``ratio_interleaved``), that one: a busy machine disturbs it far less."""
        f, b = self.sides.get("fsmirror"), self.sides.get("baseline")
        if f is not None and isinstance(f.info.get("ratio_interleaved"), (int, float)):
            return float(f.info["ratio_interleaved"])
        if f is None or b is None or b.median == 0:
            return None
        return f.median / b.median

    def verdict(self) -> tuple[str, str]:
        """(ratio text, met/missed text) against the target."""
        f = self.sides.get("fsmirror")
        if f is None:
            return "n/a", "not measured (fsmirror side missing)"
        payload = f.info.get("payload_mb")
        if payload is not None:  # row 7: an absolute limit, not a ratio
            limit = float(payload) + 100.0
            worst = float(f.info.get("value", f.median))
            text = f"{worst / float(payload):.2f}x payload (+{worst - float(payload):.0f} MB)"
            if worst <= limit:
                return text, f"met ({worst:.0f} MB <= {limit:.0f} MB)"
            return text, f"MISSED by {worst - limit:.0f} MB ({worst:.0f} MB > {limit:.0f} MB)"
        r = self.ratio()
        if r is None:
            why = self.sides["fsmirror"].info.get("baseline_unavailable")
            return "n/a", f"baseline not measured{': ' + str(why) if why else ''}"
        text, result = _check(r, self.target, self.higher_is_better)
        if "ratio_interleaved" in f.info:
            text += " (sides alternated)"
        return text, result


def _check(r: float, target: str, higher_is_better: bool) -> tuple[str, str]:
    m = re.search(r"(<=|>=)\s*([\d.]+)x", target)
    if "faster" in target and (m is None or m.group(1) == ">="):
        speedup = 1 / r if r else float("inf")
        text = f"{r:.3g}x ({speedup:.3g}x faster)" if r < 1 else f"{r:.3g}x ({r:.3g}x slower)"
        need = float(m.group(2)) if m else 1.0
        if speedup >= need and (m or r < 1):
            return text, "met"
        return (
            text,
            f"MISSED: {speedup:.3g}x faster, target {need:g}x ({(1 - speedup / need) * 100:.0f}% short)",
        )
    if m is None:
        return f"{r:.3g}x", "no target parsed"
    op, limit = m.group(1), float(m.group(2))
    text = f"{r:.3f}x" + (" throughput" if higher_is_better else "")
    if op == "<=":
        return (text, "met") if r <= limit else (text, f"MISSED by {(r / limit - 1) * 100:.1f}%")
    return (text, "met") if r >= limit else (text, f"MISSED by {(1 - r / limit) * 100:.1f}%")


def _side(bench: Mapping[str, Any]) -> Side:
    info = bench.get("extra_info", {})
    samples = info.get("samples")
    if samples:
        xs = sorted(float(x) for x in samples)
        q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0], xs[0], xs[0]]
        return Side(statistics.median(xs), q[2] - q[0], str(info.get("unit", "")), len(xs), info)
    st = bench["stats"]
    return Side(float(st["median"]), float(st["iqr"]), "s", int(st["rounds"]), info)


def collect(paths: Iterable[Path]) -> tuple[list[Line], list[dict[str, Any]]]:
    """Lines keyed by (row, case), and each file's header facts (date, machine, versions)."""
    lines: dict[tuple[int, str], Line] = {}
    files = []
    for path in sorted(paths):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            files.append({"file": path.name, "error": f"unreadable: {e}"})
            continue
        versions: dict[str, str] = {}
        smoke = False
        loads: list[float] = []
        for bench in data.get("benchmarks", []):
            info = bench.get("extra_info", {})
            versions.update(info.get("versions", {}))
            smoke = smoke or bool(info.get("smoke"))
            if isinstance(info.get("loadavg_1m"), (int, float)):
                loads.append(float(info["loadavg_1m"]))
            if "row" not in info or "stats" not in bench:
                continue
            key = (int(info["row"]), str(info.get("case", bench.get("group") or "")))
            line = lines.setdefault(
                key,
                Line(
                    key[0],
                    key[1],
                    str(info.get("measurement", "")),
                    str(info.get("baseline", "")),
                    str(info.get("target", "")),
                    path.name,
                ),
            )
            line.sides[str(info.get("role"))] = _side(bench)
        mi = data.get("machine_info", {})
        ci = data.get("commit_info") or {}
        files.append(
            {
                "file": path.name,
                "datetime": data.get("datetime", ""),
                "python": mi.get("python_version", ""),
                "cpu": (mi.get("cpu") or {}).get("brand_raw", ""),
                "cores": (mi.get("cpu") or {}).get("count"),
                "versions": versions,
                "smoke": smoke,
                "commit": str(ci.get("id") or "")[:12] + (" (dirty)" if ci.get("dirty") else ""),
                "load": (min(loads), max(loads)) if loads else None,
            }
        )
    return sorted(lines.values(), key=lambda ln: (ln.row, ln.case)), files


def machine() -> str:
    """CPU model, cores and RAM from /proc (what the ratios were measured on)."""
    cpu, cores, mem = platform.processor() or platform.machine(), os.cpu_count() or 0, ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = f"{int(ln.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    return f"{cpu}, {cores} cores, {mem}, {platform.system()} {platform.release()}".rstrip(", ")


def _fmt(value: float, unit: str) -> str:
    if unit != "s":
        return f"{value:,.1f} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if value >= scale or name == "ns":
            return f"{value / scale:.3g} {name}"
    return f"{value} s"


def _cell(side: Side | None) -> str:
    if side is None:
        return "—"
    return f"{_fmt(side.median, side.unit)} ± {_fmt(side.spread, side.unit)} (n={side.rounds})"


def _requests_cell(req: Mapping[str, Any]) -> str:
    ops = sorted(req.get("by_operation", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} {n}" for op, n in ops) or "none"


def requests_verdict(info: Mapping[str, Any]) -> str:
    """met / MISSED against ``requests_target`` (total requests, PUTs in sequence), or "recorded"."""
    req, target = info.get("requests") or {}, info.get("requests_target") or {}
    if target.get("total") is None and target.get("put_depth") is None:
        return "recorded"
    misses = []
    if target.get("total") is not None and int(req.get("total", 0)) > int(target["total"]):
        misses.append(f"{req.get('total')} requests, target {target['total']}")
    if target.get("put_depth") is not None and int(req.get("put_depth", 0)) > int(target["put_depth"]):
        misses.append(f"{req.get('put_depth')} PUTs in sequence, target {target['put_depth']}")
    return "met" if not misses else "MISSED: " + "; ".join(misses)


def _main_table(lines: list[Line], rows: Iterable[int]) -> list[str]:
    out = [
        "| # | measurement | fsmirror | baseline | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_row: dict[int, list[Line]] = {}
    for ln in lines:
        by_row.setdefault(ln.row, []).append(ln)
    for row in rows:
        what, base, target, owner = ROWS[row]
        if row not in by_row:
            why = (
                f"not measured yet (run `tox -e bench-{owner}`)"
                if owner != "core"
                else "not measured yet (run `tox -e bench`)"
            )
            out.append(f"| {row} | {what} | — | {base} | — | {target} | {why} |")
            continue
        if row == REQUEST_ROW:
            counted = [ln for ln in by_row[row] if "fsmirror" in ln.sides]
            verdicts = [requests_verdict(ln.sides["fsmirror"].info) for ln in counted]
            judged = [v for v in verdicts if v != "recorded"]
            met = sum(v == "met" for v in judged)
            out.append(
                f"| {row} | {what} | {len(counted)} operations counted | — | — | {target} | "
                f"{met} of {len(judged)} targets met; table below |"
            )
            continue
        for ln in by_row[row]:
            ratio, result = ln.verdict()
            f, b = ln.sides.get("fsmirror"), ln.sides.get("baseline")
            measurement = f"{ln.measurement} [{ln.case}]" if ln.measurement else ln.case
            baseline_cell = _cell(b) + (f"<br>{ln.baseline_name}" if ln.baseline_name else "")
            out.append(
                f"| {row} | {measurement} | {_cell(f)} | {baseline_cell} | {ratio} | {ln.target} | {result} |"
            )
    return out


def _requests_table(lines: list[Line], title: str) -> list[str]:
    counted = [ln for ln in lines if ln.row == REQUEST_ROW and "fsmirror" in ln.sides]
    if not counted:
        return []
    counted.sort(key=lambda ln: (int(ln.sides["fsmirror"].info.get("order", 1_000)), ln.case))
    first = counted[0].sides["fsmirror"].info
    out = [
        "",
        title,
        "",
        "Counted with a botocore `before-send` hook on the s3fs client (one count per HTTP attempt), one",
        "call per operation after its set-up. *In sequence*: the longest chain of requests each sent after",
        "the previous one was answered (all / HTTP PUTs only; a PUT costs two round trips behind",
        f"`Expect: 100-continue`). Time: median wall time {first.get('timing', '')}.",
        "",
        "| operation | requests | by S3 operation | in sequence (all / PUTs) | time | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ln in counted:
        side = ln.sides["fsmirror"]
        req = side.info.get("requests") or {}
        out.append(
            f"| {ln.measurement} [{ln.case.removeprefix('requests-')}] | {req.get('total', '?')} | "
            f"{_requests_cell(req)} | {req.get('depth', '?')} / {req.get('put_depth', '?')} | "
            f"{_fmt(side.median, side.unit)} (n={side.rounds}) | {ln.target} | {requests_verdict(side.info)} |"
        )
    return out


def _file_facts(files: list[dict[str, Any]]) -> list[str]:
    out = []
    cpus = {f["cpu"] for f in files if f.get("cpu")}
    if len(cpus) > 1:
        out.append(
            f"- The files were measured on {len(cpus)} different CPUs ({', '.join(sorted(cpus))}): "
            "compare ratios within a file, not times across files."
        )
    for f in files:
        if "error" in f:
            out.append(f"- `{f['file']}`: {f['error']}")
            continue
        vers = ", ".join(f"{k} {v}" for k, v in sorted(f["versions"].items()))
        out.append(
            f"- `{f['file']}`: run {f['datetime'][:19].replace('T', ' ')} UTC"
            + (
                f" on {f['cpu']}" + (f" ({f['cores']} cores)" if f.get("cores") else "")
                if f.get("cpu")
                else ""
            )
            + f", Python {f['python']}"
            + (f", commit {f['commit']}" if f.get("commit") else "")
            + (
                f", load average {f['load'][0]:.1f}-{f['load'][1]:.1f} on {os.cpu_count()} cores"
                if f.get("load")
                else ""
            )
            + (f"; {vers}" if vers else "")
            + (" — SMOKE sizes, not a measurement" if f["smoke"] else "")
        )
    return out


def _before_v2(before: tuple[list[Line], list[dict[str, Any]], Mapping[str, Any]] | None) -> list[str]:
    """The frozen figures of the 1.0 commit protocol (``benchmarks/before-v2/``), rendered like the above."""
    if before is None:
        return []
    lines, files, about = before
    lines = [ln for ln in lines if ln.row in PROTOCOL_ROWS]
    if not lines:
        return []
    rows = sorted({ln.row for ln in lines})
    out = [
        "",
        "## Before store v2 (the fsmirror 1.0 commit protocol)",
        "",
        f"Measured {about.get('measured', 'on the date below')} with `{about.get('command', '?')}`, "
        f"on the commit before the new protocol ({about.get('commit', 'see below')}); frozen in "
        "`benchmarks/before-v2/` so later runs compare against it.",
    ]
    if about.get("note"):
        out += ["", str(about["note"])]
    out += ["", *_file_facts(files), "", *_main_table(lines, rows)]
    out += _requests_table(lines, "### Requests per operation before store v2 (S3, moto)")
    return out


def render(
    lines: list[Line],
    files: list[dict[str, Any]],
    *,
    notes: str = "",
    smoke: bool = False,
    before: tuple[list[Line], list[dict[str, Any]], Mapping[str, Any]] | None = None,
) -> str:
    """The whole results file: header, the table, the request counts, the frozen 1.0 figures, the notes."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# fsmirror benchmarks: results",
        "",
        f"Merged {now} by `python -m benchmarks{' --smoke' if smoke else ''}` "
        "(rows 1-8, 13-16, 18, 19: `tox -e bench`; rows 9-12, 17: `tox -e bench-<orchestrator>`, "
        "then `python -m benchmarks --merge-only`).",
        "",
        f"- Merged on: {machine()}",
        *_file_facts(files),
        "",
        "Each cell is the median ± the interquartile range over n rounds (pytest-benchmark). The ratio is",
        "fsmirror / baseline of the medians (time: lower is better), or of throughputs where it says so.",
        "Both sides of a line ran in the same process run, on the same filesystem, bytes and warm-up.",
        "",
        *_main_table(lines, ROWS),
    ]
    out += _requests_table(lines, "## Requests per operation (S3, moto)")
    out += _before_v2(before)
    out += ["", NOTES_START, notes.strip() or "_No analysis written yet._", NOTES_END, ""]
    return "\n".join(out)


def _kept_notes(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError:
        return ""
    if NOTES_START in text and NOTES_END in text:
        return text.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0]
    return ""


def _frozen() -> tuple[list[Line], list[dict[str, Any]], dict[str, Any]] | None:
    """The 1.0 protocol's frozen results (``before-v2/results-*.json`` and ``about.json``), if any."""
    paths = sorted(BEFORE_V2.glob("results-*.json"))
    if not paths:
        return None
    try:
        about = json.loads((BEFORE_V2 / "about.json").read_text())
    except (OSError, ValueError):
        about = {}
    lines, files = collect(paths)
    return lines, files, about


def merge(
    out: Path,
    json_paths: Iterable[Path] | None = None,
    *,
    smoke: bool = False,
    notes_from: Path | None = None,
) -> str:
    """Write ``out`` from the JSON files (default: every ``benchmarks/results-*.json``); returns the text."""
    paths = list(json_paths) if json_paths is not None else sorted(HERE.glob("results-*.json"))
    lines, files = collect(paths)
    text = render(lines, files, notes=_kept_notes(notes_from or out), smoke=smoke, before=_frozen())
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    return text

"""``python -m benchmarks``: run the core and protocol rows, then merge every ``results-*.json`` into ``results.md``.

- ``python -m benchmarks``: rows 1-8 (``bench_core.py``, JSON to
  ``benchmarks/results-core.json``) and rows 13-16, 18, 19 (``bench_protocol.py``,
  JSON to ``benchmarks/results-protocol.json``) at full size, each file in one
  pytest-benchmark process run, then the merge. ``--only core`` or
  ``--only protocol`` runs one of the two.
- ``python -m benchmarks --smoke``: tiny sizes and few rounds (seconds), merged
  into a temporary file; ``benchmarks/results.md`` is left alone. For CI: it
  proves the suite still runs, and asserts nothing about time.
- ``python -m benchmarks --merge-only``: re-merge the JSON files already there
  (after a ``tox -e bench-<orchestrator>`` run, say).

Options this runner does not know, and anything after ``--``, go to pytest (``-k row5``).
A file of which pytest selects nothing keeps its previous JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# group -> (file, the JSON it writes); each group runs in a pytest process of its own
GROUPS = {
    "core": ("bench_core.py", "results-core.json"),
    "protocol": ("bench_protocol.py", "results-protocol.json"),
    "catalog": ("bench_catalog.py", "results-catalog.json"),
}
CORE_FILES = [f for f, _ in GROUPS.values()]
NO_TESTS = 5  # pytest's exit code when nothing was selected (-k for another file)


def _pytest(bench_file: str, json_out: Path, smoke: bool, extra: list[str]) -> int:
    """Run one bench file in a fresh interpreter; ``json_out`` is replaced only if it measured something."""
    partial = json_out.with_name(json_out.name + ".part")
    args = [
        str(HERE / bench_file),
        "-p",
        "no:cacheprovider",
        "-o",
        "python_files=bench_*.py",
        f"--rootdir={HERE.parent}",
        f"--benchmark-json={partial}",
        "--benchmark-sort=name",
        "--benchmark-columns=median,iqr,min,max,rounds,iterations",
        "-q",
    ]
    # Only benchmark() (row 1) calibrates; pedantic rows set their own rounds.
    args += (
        ["--benchmark-max-time=0.02", "--benchmark-min-rounds=2", "--benchmark-min-time=0.00002"]
        if smoke
        else [
            "--benchmark-max-time=2.0",
            "--benchmark-min-rounds=20",
            "--benchmark-min-time=0.0001",
            "--benchmark-warmup=on",
        ]
    )
    code = subprocess.call([sys.executable, "-m", "pytest", *args, *extra], cwd=HERE.parent)
    try:
        measured = bool(json.loads(partial.read_text()).get("benchmarks"))
    except (OSError, ValueError):
        measured = False
    if measured:
        os.replace(partial, json_out)
    else:
        partial.unlink(missing_ok=True)
    return code


def _run(groups: list[str], out_dir: Path, smoke: bool, extra: list[str]) -> tuple[int, list[Path]]:
    """Run the groups; (exit code, the JSON files written). Nothing selected in one group is not a failure."""
    codes, written = [], []
    for g in groups:
        bench_file, name = GROUPS[g]
        codes.append(_pytest(bench_file, out_dir / name, smoke, extra))
        if (out_dir / name).exists():
            written.append(out_dir / name)
    failed = [c for c in codes if c not in (0, NO_TESTS)]
    if failed:
        return failed[0], written
    return (0 if any(c == 0 for c in codes) else NO_TESTS), written


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds; results.md untouched")
    mode.add_argument("--merge-only", action="store_true", help="only re-merge benchmarks/results-*.json")
    parser.add_argument(
        "--only", choices=sorted(GROUPS), action="append", help="run only this group (repeatable)"
    )
    parser.add_argument(
        "--out", type=Path, help="where to write the Markdown (default: benchmarks/results.md)"
    )
    opts, unknown = parser.parse_known_args(argv)
    passthrough = unknown + passthrough  # tox eats a bare --: pass pytest's own options on
    groups = opts.only or list(GROUPS)

    from benchmarks._merge import merge

    results = HERE / "results.md"
    if opts.merge_only:
        print(merge(opts.out or results))
        return 0
    if opts.smoke:
        os.environ["FSMIRROR_BENCH_SMOKE"] = "1"
        tmp = Path(tempfile.mkdtemp(prefix="fsmirror-bench-smoke-"))
        code, written = _run(groups, tmp, True, passthrough)
        ours = {name for _, name in GROUPS.values()}
        others = [p for p in sorted(HERE.glob("results-*.json")) if p.name not in ours]
        out = opts.out or tmp / "results.md"
        text = merge(out, [*written, *others], smoke=True, notes_from=results)
        print(text)
        print(f"smoke results (not a measurement): {out}")
        return code
    os.environ.pop("FSMIRROR_BENCH_SMOKE", None)
    code, _ = _run(groups, HERE, False, passthrough)
    text = merge(opts.out or results)
    print(text)
    print(f"wrote {opts.out or results}")
    return code


if __name__ == "__main__":
    sys.exit(main())

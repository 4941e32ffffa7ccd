"""``python -m benchmarks``: run the core rows, then merge every ``results-*.json`` into ``results.md``.

- ``python -m benchmarks``: rows 1-8 at full size in this one process run
  (pytest-benchmark), JSON to ``benchmarks/results-core.json``, then the merge.
- ``python -m benchmarks --smoke``: tiny sizes and few rounds (seconds), merged
  into a temporary file; ``benchmarks/results.md`` is left alone. For CI: it
  proves the suite still runs, and asserts nothing about time.
- ``python -m benchmarks --merge-only``: re-merge the JSON files already there
  (after a ``tox -e bench-<orchestrator>`` run, say).

Options this runner does not know, and anything after ``--``, go to pytest (``-k row5``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORE_FILES = ["bench_core.py"]


def _pytest(json_out: Path, smoke: bool, extra: list[str]) -> int:
    import pytest

    args = [
        *(str(HERE / f) for f in CORE_FILES),
        "-p",
        "no:cacheprovider",
        "-o",
        "python_files=bench_*.py",
        f"--rootdir={HERE.parent}",
        f"--benchmark-json={json_out}",
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
    return int(pytest.main([*args, *extra]))


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
        "--out", type=Path, help="where to write the Markdown (default: benchmarks/results.md)"
    )
    opts, unknown = parser.parse_known_args(argv)
    passthrough = unknown + passthrough  # tox eats a bare --: pass pytest's own options on

    from benchmarks._merge import merge

    results = HERE / "results.md"
    if opts.merge_only:
        print(merge(opts.out or results))
        return 0
    if opts.smoke:
        os.environ["FSMIRROR_BENCH_SMOKE"] = "1"
        tmp = Path(tempfile.mkdtemp(prefix="fsmirror-bench-smoke-"))
        core_json = tmp / "results-core.json"
        code = _pytest(core_json, True, passthrough)
        others = [p for p in sorted(HERE.glob("results-*.json")) if p.name != "results-core.json"]
        out = opts.out or tmp / "results.md"
        text = merge(
            out, [core_json, *others] if core_json.exists() else others, smoke=True, notes_from=results
        )
        print(text)
        print(f"smoke results (not a measurement): {out}")
        return code
    os.environ.pop("FSMIRROR_BENCH_SMOKE", None)
    code = _pytest(HERE / "results-core.json", False, passthrough)
    text = merge(opts.out or results)
    print(text)
    print(f"wrote {opts.out or results}")
    return code


if __name__ == "__main__":
    sys.exit(main())

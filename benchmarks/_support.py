"""Shared pieces of the core benchmarks: sizes, the sample project, configs, fixtures, fsmirror 0.4.

Everything both sides of a comparison need is built here once, so the fsmirror
side and its baseline always get the same filesystem, the same bytes and the
same warm-up.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:  # the moto server the storage tests use
    sys.path.insert(0, str(TESTS))

from servers import S3Server  # noqa: E402

__all__ = [
    "SMOKE",
    "WARMUP",
    "Sizes",
    "SIZES",
    "LEGACY_VERSION",
    "Project",
    "S3Server",
    "config_dict",
    "extra",
    "legacy_module",
    "random_table",
    "versions",
]

SMOKE = os.environ.get("FSMIRROR_BENCH_SMOKE", "") not in ("", "0", "false", "no")
LEGACY_VERSION = "0.4"
WARMUP = 0 if SMOKE else 1  # untimed rounds before the timed ones, the same for both sides


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; smoke mode shrinks them so the whole suite runs in seconds."""

    table_mb: int  # row 3/4: in-memory size of the parquet table
    io_rounds: int
    runs_many: int  # row 5/6: runs (versions) to look the latest up among
    runs_few: int
    lookup_rounds: int
    import_rounds: int
    rss_mb: int  # row 7: payload
    rss_rounds: int
    procs: int  # row 8
    artifacts_per_proc: int
    artifact_bytes: int
    throughput_rounds: int


SIZES = (
    Sizes(2, 1, 50, 10, 5, 2, 20, 1, 2, 5, 4096, 1)
    if SMOKE
    else Sizes(100, 9, 10_000, 10, 200, 30, 1024, 3, 8, 100, 4096, 3)
)


def versions() -> dict[str, str]:
    """Versions of what the core rows exercise, recorded beside every result."""
    out = {"python": sys.version.split()[0]}
    for dist in (
        "fsmirror",
        "pyarrow",
        "fsspec",
        "s3fs",
        "moto",
        "kedro",
        "kedro-datasets",
        "pytest-benchmark",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def extra(
    benchmark: Any,
    *,
    row: int,
    role: str,
    case: str,
    measurement: str,
    baseline: str,
    target: str,
    **more: Any,
) -> None:
    """Tag a benchmark with the keys the merger (``benchmarks/_merge.py``) groups and compares on."""
    benchmark.group = f"row{row}-{case}"
    benchmark.extra_info.update(
        {
            "row": row,
            "role": role,
            "case": case,
            "measurement": measurement,
            "baseline": baseline,
            "target": target,
            "smoke": SMOKE,
            "versions": versions(),
            "loadavg_1m": _load(),  # other users of the machine: read a ratio in its light
            **more,
        }
    )


def random_table(mb: int) -> Any:
    """A pyarrow table of about ``mb`` MB of random numbers (incompressible: the file is the table's size)."""
    import numpy as np
    import pyarrow as pa

    rows = mb * 1024 * 1024 // 32
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "key": rng.integers(0, 1 << 40, rows, dtype=np.int64),
            "x": rng.random(rows),
            "y": rng.standard_normal(rows),
        }
    )


# -- the sample project both fsmirror versions resolve ---------------------------

PROJECT_SOURCE = '''\
"""A task module as a user's project would hold it (written by the benchmarks)."""


def lift_data():
    return 1


def ten_runs():
    return 1


def many_runs():
    return 1


class LiftDataTask:
    def run(self):
        return 1
'''


@dataclass
class Project:
    """``<tmp>/project/etl/my_etl_task.py``, imported as a real module (0.4 needs ``sys.modules``)."""

    root: Path
    module: ModuleType

    @classmethod
    def create(cls, base: Path) -> Project:
        pkg = base / "project" / "etl"
        pkg.mkdir(parents=True, exist_ok=True)
        (base / "project" / "__init__.py").write_text("")
        (pkg / "__init__.py").write_text("")
        (pkg / "my_etl_task.py").write_text(PROJECT_SOURCE)
        sys.path.insert(0, str(base))
        importlib.invalidate_caches()
        module = importlib.import_module("project.etl.my_etl_task")
        return cls(base, module)


def config_dict(provider: str, tenant: str, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The seed's config shape, which fsmirror 0.4 and 1.x both read."""
    storage: dict[str, Any] = {"provider": provider, "tenant": tenant, "namespace": "MIRROR"}
    if storage_options:
        storage["storage_options"] = storage_options
    return {
        "storage": storage,
        "mirrors": {
            "project": {
                "root": "project",
                "prefix": "MIRROR",
                "output_name": "out",
                "output_format": "parquet",
            }
        },
    }


# -- fsmirror 0.4 from PyPI, under another name ---------------------------------


def _cache_dir() -> Path:
    base = os.environ.get("FSMIRROR_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), "fsmirror-bench-cache"
    )
    return Path(base)


def _install_commands(target: str) -> list[list[str]]:
    spec = f"fsmirror=={LEGACY_VERSION}"
    cmds = []
    uv = shutil.which("uv")
    try:
        importlib.import_module("uv")
        cmds.append([sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable])
    except ImportError:
        pass
    if uv:
        cmds.append([uv, "pip", "install", "--python", sys.executable])
    try:
        importlib.import_module("pip")
        cmds.append([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"])
    except ImportError:
        pass
    return [[*c, "--no-deps", "--target", target, spec] for c in cmds]


def legacy_module() -> ModuleType:
    """fsmirror 0.4 from PyPI, imported as ``fsmirror_legacy`` beside ours (same distribution name).

    It is installed with ``--target`` into a cache directory (never into this
    environment, which would clobber ours), then its package is copied as
    ``fsmirror_legacy`` with its own ``fsmirror`` imports renamed. Raises
    ``RuntimeError`` saying exactly why when it cannot be had.
    """
    cache = _cache_dir()
    pkg = cache / f"legacy-{LEGACY_VERSION}" / "fsmirror_legacy"
    if not (pkg / "__init__.py").exists():
        errors = []
        with tempfile.TemporaryDirectory(prefix="fsmirror-04-") as tmp:
            for cmd in _install_commands(tmp):
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if proc.returncode == 0 and (Path(tmp) / "fsmirror" / "__init__.py").exists():
                    break
                errors.append(f"{' '.join(cmd[:4])}: {proc.stderr.strip()[-300:]}")
            else:
                raise RuntimeError(
                    f"could not get fsmirror=={LEGACY_VERSION} from PyPI: "
                    + ("; ".join(errors) or "neither uv nor pip is available in this environment")
                )
            staging = pkg.with_name(pkg.name + ".part")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(Path(tmp) / "fsmirror", staging, ignore=shutil.ignore_patterns("__pycache__"))
            for py in staging.rglob("*.py"):
                text = py.read_text()
                text = re.sub(r"\b(from|import)\s+fsmirror\b", r"\1 fsmirror_legacy", text)
                py.write_text(text)
            shutil.rmtree(pkg, ignore_errors=True)
            staging.rename(pkg)
    if str(pkg.parent) not in sys.path:
        sys.path.insert(0, str(pkg.parent))
    return importlib.import_module("fsmirror_legacy")


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One moto S3 server on 127.0.0.1 for the whole bench session."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """Scratch space on local disk for every local-storage case."""
    d = Path(tempfile.mkdtemp(prefix="fsmirror-bench-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def project(workdir: Path) -> Project:
    return Project.create(workdir / "code")


def child_script(code: str) -> str:
    """Dedent a snippet run with ``python -c`` in a child process."""
    return textwrap.dedent(code)

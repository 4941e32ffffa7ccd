"""The distributed harness: per-stack venvs, real servers and process trees that are stopped for sure.

Every stack runs in its own venv (Airflow 3.3 and Prefect 3.9 cannot share one), built
with uv from ``tests/distributed/stacks/<stack>.txt`` plus this checkout of fsmirror.
The test process itself imports no orchestrator: it starts each orchestrator's
processes as subprocesses, each worker in its own HOME and working directory, and
asserts on what landed in S3 through the ``fsmirror`` CLI and s3fs.

Every process started here carries ``FSMIRROR_DIST_TOKEN`` in its environment and
starts its own session (``start_new_session=True``), so stopping kills the whole
process group, and a scan of ``/proc`` for the token finds any child that escaped
its group (a daemon calling ``setsid``) — :meth:`Processes.leftovers`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ROOT",
    "STACKS",
    "PROJECTS",
    "Processes",
    "Proc",
    "Redis",
    "Postgres",
    "Timer",
    "base_env",
    "committed",
    "free_port",
    "fsmirror_cli",
    "http_json",
    "manifest_of",
    "pg_bin",
    "project_copy",
    "resolve_many",
    "stack_venv",
    "wait_for",
    "wait_port",
    "worker_dir",
    "write_mirror_config",
]

ROOT = Path(__file__).resolve().parents[2]
STACKS = Path(__file__).resolve().parent / "stacks"
TOKEN_VAR = "FSMIRROR_DIST_TOKEN"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(
        f"nothing listens on 127.0.0.1:{port} after {timeout}s" + (f":\n{proc.tail()}" if proc else "")
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Timer:
    """Wall-clock phases of a stack, printed by its test (``pytest -s``)."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.marks: dict[str, float] = {}
        self._t = time.monotonic()

    def mark(self, phase: str) -> float:
        now = time.monotonic()
        self.marks[phase] = round(now - self._t, 1)
        self._t = now
        return self.marks[phase]

    def report(self, **counts: Any) -> str:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in self.marks.items())
        extra = ", ".join(f"{k} {v}" for k, v in counts.items())
        line = f"[distributed:{self.stack}] {phases}" + (f"; {extra}" if extra else "")
        print(line, flush=True)
        return line


# -- processes -------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _proc_pids() -> Iterable[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _has_token(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return token in f.read().split(b"\0")
    except OSError:
        return False


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


@dataclass
class Processes:
    """Starts processes in their own sessions and stops every one of them, children included."""

    logs: Path
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    procs: list[Proc] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "TOX_"))}
        base.update(extra)
        base[TOKEN_VAR] = self.token
        return base

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path | str) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        env = {**env, TOKEN_VAR: self.token}
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                list(argv),
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def run(
        self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path | str, timeout: float = 300
    ) -> str:
        """Run a command to completion (in its own session too); its output, or AssertionError with it."""
        proc = self.start(name, argv, env=env, cwd=cwd)
        try:
            rc = proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise AssertionError(f"{name} did not finish in {timeout}s:\n{proc.tail()}") from None
        self.stop(proc)  # any child it left behind
        out = proc.log.read_text(errors="replace")
        if rc != 0:
            raise AssertionError(f"{' '.join(argv)} exited with {rc}:\n{proc.tail(80)}")
        return out

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        """Signal the process group, wait, then SIGKILL whatever of the group is still there."""
        pgid = proc.popen.pid  # a session leader's group id is its pid
        for s, wait in ((sig, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, s)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                proc.popen.poll()
                if not self._group_alive(pgid):
                    break
                time.sleep(0.1)
            else:
                continue
            break
        try:
            proc.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # members that are only zombies (reaped by init later) do not count
        for pid in _proc_pids():
            try:
                if os.getpgid(pid) == pgid and not _zombie(pid):
                    return True
            except OSError:
                continue
        return False

    def leftovers(self) -> list[tuple[int, str]]:
        """(pid, command line) of every live process that carries this harness's token."""
        token = f"{TOKEN_VAR}={self.token}".encode()
        found = []
        for pid in _proc_pids():
            if pid != os.getpid() and _has_token(pid, token) and not _zombie(pid):
                try:
                    cmd = (
                        Path(f"/proc/{pid}/cmdline")
                        .read_bytes()
                        .replace(b"\0", b" ")
                        .decode(errors="replace")
                    )
                except OSError:
                    continue
                found.append((pid, cmd.strip()))
        return found

    def stop_all(self) -> list[tuple[int, str]]:
        """Stop every process in reverse start order; return (and SIGKILL) any that escaped its group."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None or self._group_alive(proc.popen.pid):
                self.stop(proc)
        escaped = self.leftovers()
        for pid, _ in escaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return escaped


# -- venvs -----------------------------------------------------------------------------------


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise RuntimeError("uv is not installed in the test env (tox -e distributed installs it)")
    return found


def stack_venv(stack: str, extras: str) -> Path:
    """The venv of one stack (built or brought up to date): its ``bin`` directory.

    The pins are ``stacks/<stack>.txt``; fsmirror is this checkout, rebuilt every
    session so the workers run the code under test.
    """
    base = Path(os.environ.get("FSMIRROR_STACKS_DIR") or Path(tempfile.gettempdir()) / "fsmirror-stacks")
    venv = base / stack
    uv = _uv()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not (venv / "bin" / "python").exists():
        subprocess.run([uv, "venv", "-q", "-p", py, str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(STACKS / f"{stack}.txt"),
            "-r",
            str(STACKS / "common.txt"),
            f"fsmirror[{extras}] @ {ROOT.as_uri()}",
            "--reinstall-package",
            "fsmirror",
        ],
        check=True,
    )
    return venv / "bin"


def worker_dir(base: Path, name: str) -> tuple[Path, Path]:
    """(HOME, working directory) of one process: nothing shared with any other process."""
    home = base / name / "home"
    work = base / name / "work"
    home.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    return home, work


# -- servers ---------------------------------------------------------------------------------


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the ``postgres`` system user then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and no runuser to drop to the postgres user")
    return [runuser, "-u", "postgres", "--"]


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for d in versions:
        if (d / name).exists():
            return str(d / name)
    raise RuntimeError(f"PostgreSQL's {name} not found (apt-get install postgresql; .ci/run does)")


@dataclass
class Postgres:
    procs: Processes
    port: int = field(default_factory=free_port)
    datadir: Path | None = None
    proc: Proc | None = None

    def start(self) -> Postgres:
        # Not under pytest's tmp (mode 0700, root's): the postgres user must reach its directory.
        self.datadir = Path(tempfile.mkdtemp(prefix="fsmirror-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres", "postgres")
        drop = _as_postgres_user()
        env = self.procs.env(LC_ALL="C.UTF-8")
        self.procs.run(
            "pg-initdb",
            [
                *drop,
                pg_bin("initdb"),
                "-D",
                str(self.datadir / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            env=env,
            cwd=self.datadir,
            timeout=120,
        )
        self.proc = self.procs.start(
            "postgres",
            [
                *drop,
                pg_bin("postgres"),
                "-D",
                str(self.datadir / "data"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.datadir),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=300",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            env=env,
            cwd=self.datadir,
        )
        wait_port(self.port, 60, self.proc)
        wait_for(
            "postgres to accept connections",
            lambda: (
                subprocess.run(
                    [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]
                ).returncode
                == 0
            ),
            60,
            0.2,
        )
        return self

    def database(self, name: str) -> str:
        """Create database ``name``; its host/port/user/db as a libpq URL without a driver."""
        subprocess.run(
            [
                pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-q",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return f"postgres@127.0.0.1:{self.port}/{name}"

    def rows(self, database: str, query: str) -> list[list[str]]:
        """The rows ``query`` returns in ``database``, each a list of its columns as text."""
        argv = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        out = subprocess.run(
            [pg_bin("psql"), *argv, "-tA", "-F", "\t", "-c", query],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc, signal.SIGINT)  # fast shutdown
            self.proc = None
        if self.datadir is not None:
            shutil.rmtree(self.datadir, ignore_errors=True)


@dataclass
class Redis:
    procs: Processes
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    def start(self) -> Redis:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server; .ci/run does)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = self.procs.start(
            "redis",
            [
                exe,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--databases",
                "16",
            ],
            env=self.procs.env(),
            cwd=self.workdir,
        )
        wait_port(self.port, 30, self.proc)
        return self

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None


# -- fsmirror --------------------------------------------------------------------------------


def write_mirror_config(path: Path, bucket: str, endpoint: str, output_format: str = "json") -> Path:
    """One mirror, ``project``, on the shared S3 bucket: the same file content for every process."""
    cfg = {
        "storage": {
            "provider": "s3",
            "tenant": bucket,
            "namespace": "MIRROR",
            "storage_options": {
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": endpoint},
            },
        },
        "mirrors": {
            "project": {
                "root": "project",
                "prefix": "MIRROR",
                "output_name": "out",
                "output_format": output_format,
            },
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def fsmirror_cli(config: Path, *args: str) -> str:
    """Run the ``fsmirror`` CLI of the test env as a subprocess; its stdout (stripped)."""
    exe = Path(sys.executable).with_name("fsmirror")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "fsmirror.cli"]
    out = subprocess.run([*argv, "--config", str(config), *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"fsmirror {' '.join(args)} exited {out.returncode}: {out.stderr.strip()}")
    return out.stdout.strip()


_MANY = """
import json, sys
from click.testing import CliRunner
from fsmirror.cli import cli
out = []
for args in json.loads(sys.stdin.read()):
    r = CliRunner().invoke(cli, args)
    out.append([r.exit_code, r.stdout.strip(), r.stderr.strip()])
print(json.dumps(out))
"""


def resolve_many(config: Path, calls: Sequence[Sequence[str]]) -> list[str]:
    """``fsmirror --config C resolve ARGS`` for each ARGS, in one subprocess (an import per call is seconds
    of CPU on a loaded 2-core machine); each call goes through the CLI as a user's would."""
    argv = [["--config", str(config), "resolve", *args] for args in calls]
    out = subprocess.run(
        [sys.executable, "-c", _MANY], input=json.dumps(argv), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    for args, (code, stdout, stderr) in zip(argv, results):
        assert code == 0, f"fsmirror {' '.join(args)} exited {code}: {stderr or stdout}"
    return [stdout for _, stdout, _ in results]


PROJECTS = Path(__file__).resolve().parent / "projects"


def project_copy(stack: str, work: Path) -> Path:
    """A private copy of the stack's project code in one process's working directory."""
    dest = work / "src"
    shutil.copytree(PROJECTS / stack, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def base_env(home: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    """A process environment of its own: HOME, PATH to its stack's venv first, no inherited Python paths."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        HOME=str(home),
        PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
        VIRTUAL_ENV=str(bin_dir.parent),
        PYTHONUNBUFFERED="1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def http_json(url: str, timeout: float = 10) -> Any:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as r:
        return json.loads(r.read())


def committed(config: Path) -> list[dict[str, Any]]:
    """Every committed artifact, as ``fsmirror ls --json`` lists it (run from outside, as a user would)."""
    return list(json.loads(fsmirror_cli(config, "ls", "--json") or "[]"))


def manifest_of(fs: Any, uri: str, output_name: str) -> dict[str, Any]:
    directory = uri.rsplit("/", 1)[0]
    return dict(json.loads(fs.cat_file(f"{directory}/_{output_name}.manifest.json")))

"""Bad input: malformed configs, hostile YAML, generated names and ids, bad CLI arguments.

Every bad config must end in one ``ConfigError`` that names the file and the
key, never run code and never surface an internal exception; every resolved
URI must stay under its tenant whatever the object name, run id, partition or
config value; the CLI must refuse bad arguments with exit code 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsmirror import ConfigError, FSMirror, FSMirrorError, ResolveError, load_config

pytestmark = pytest.mark.reliability

GOOD_STORAGE = "storage: {provider: local, tenant: store}\n"
GOOD_MIRRORS = "mirrors: {p: {root: project}}\n"


def _m(body: str) -> str:
    return GOOD_STORAGE + f"mirrors: {{p: {{root: project, {body}}}}}\n"


def _s(body: str, provider: str = "local", tenant: str = "store") -> str:
    return f"storage: {{provider: {provider}, tenant: {tenant}, {body}}}\n" + GOOD_MIRRORS


# (case, YAML text, the key the message must name)
CONFIGS: list[tuple[str, str, str]] = [
    ("storage missing", GOOD_MIRRORS, "storage"),
    ("mirrors missing", GOOD_STORAGE, "mirrors"),
    ("mirrors empty", GOOD_STORAGE + "mirrors: {}\n", "mirrors"),
    ("storage a list", "storage: [local]\n" + GOOD_MIRRORS, "storage"),
    ("storage a string", "storage: local\n" + GOOD_MIRRORS, "storage"),
    ("provider missing", "storage: {tenant: store}\n" + GOOD_MIRRORS, "storage.provider"),
    ("provider unknown", _s("", provider="ftp"), "storage.provider"),
    ("provider wrong case", _s("", provider="S3"), "storage.provider"),
    ("provider a number", _s("", provider="3"), "storage.provider"),
    ("provider a list", _s("", provider="[s3]"), "storage.provider"),
    ("tenant missing", "storage: {provider: local}\n" + GOOD_MIRRORS, "storage.tenant"),
    ("tenant empty", _s("", tenant="''"), "storage.tenant"),
    ("tenant a list", _s("", tenant="[a, b]"), "storage.tenant"),
    ("tenant with NUL", _s("", tenant='"a\\0b"'), "storage.tenant"),
    ("tenant a date", _s("", tenant="2024-01-01"), "storage.tenant"),
    ("s3 bucket with a slash", _s("", provider="s3", tenant="bucket/sub"), "storage"),
    ("s3 bucket '..'", _s("", provider="s3", tenant="'..'"), "storage"),
    ("namespace '..'", _s("namespace: '..'"), "storage.namespace"),
    ("namespace with a slash", _s("namespace: a/b"), "storage.namespace"),
    ("namespace with a newline", _s('namespace: "a\\nb"'), "storage.namespace"),
    ("storage_options a list", _s("storage_options: [1, 2]"), "storage.storage_options"),
    ("claim_ttl negative", _s("claim_ttl: -5"), "storage.claim_ttl"),
    ("claim_ttl a word", _s("claim_ttl: soon"), "storage.claim_ttl"),
    ("claim_ttl NaN", _s("claim_ttl: .nan"), "storage.claim_ttl"),
    ("unknown storage key", _s("bukket: x"), "storage.bukket"),
    ("unknown top-level key", GOOD_STORAGE + GOOD_MIRRORS + "extra: 1\n", "extra"),
    ("mirror null", GOOD_STORAGE + "mirrors: {p: null}\n", "mirrors.p"),
    ("mirror a list", GOOD_STORAGE + "mirrors: {p: [project]}\n", "mirrors.p"),
    ("mirror name a number", GOOD_STORAGE + "mirrors: {1: {root: project}}\n", "mirrors.1.[key]"),
    ("root missing", GOOD_STORAGE + "mirrors: {p: {prefix: x}}\n", "mirrors.p.root"),
    ("root '..'", GOOD_STORAGE + "mirrors: {p: {root: '..'}}\n", "mirrors.p.root"),
    ("root with a slash", GOOD_STORAGE + "mirrors: {p: {root: a/b}}\n", "mirrors.p.root"),
    ("root a mapping", GOOD_STORAGE + "mirrors: {p: {root: {a: 1}}}\n", "mirrors.p.root"),
    ("prefix escapes", _m("prefix: ../up"), "mirrors.p.prefix"),
    ("output_name escapes", _m("output_name: ../x"), "mirrors.p.output_name"),
    ("output_name hidden", _m("output_name: _x"), "mirrors.p.output_name"),
    ("output_name with a dot", _m("output_name: a.b"), "mirrors.p.output_name"),
    ("output_format with a space", _m("output_format: par quet"), "mirrors.p.output_format"),
    ("output_format a path", _m("output_format: ../pkl"), "mirrors.p.output_format"),
    ("layout missing {run_id}", _m("layout: '{module}/{name}'"), "mirrors.p.layout"),
    ("layout twice {name}", _m("layout: '{module}/{run_id}/{name}/{name}'"), "mirrors.p.layout"),
    ("layout unknown placeholder", _m("layout: '{module}/{run_id}/{name}/{user}'"), "mirrors.p.layout"),
    ("layout format attribute", _m("layout: '{module}/{run_id}/{name.__class__}'"), "mirrors.p.layout"),
    ("layout positional field", _m("layout: '{0}/{module}/{run_id}/{name}'"), "mirrors.p.layout"),
    ("layout with '..'", _m("layout: '{module}/../{run_id}/{name}'"), "mirrors.p.layout"),
    ("layout absolute", _m("layout: '/{module}/{run_id}/{name}'"), "mirrors.p.layout"),
    ("layout a number", _m("layout: 5"), "mirrors.p.layout"),
    ("strict_format a word", _m("strict_format: maybe"), "mirrors.p.strict_format"),
    ("allow_pickle a list", _m("allow_pickle: []"), "mirrors.p.allow_pickle"),
    ("unknown mirror key", _m("outptu_format: pkl"), "mirrors.p.outptu_format"),
    ("unset ${VAR}", _s("", tenant="'${FSMIRROR_TEST_SURELY_UNSET}'"), "storage.tenant"),
    ("${VAR} expands to a path", _m("prefix: '${FSMIRROR_TEST_SLASHY}'"), "mirrors.p.prefix"),
    ("duplicate key", "storage: {provider: local, tenant: a, tenant: b}\n" + GOOD_MIRRORS, "tenant"),
]

BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)

# (case, YAML text or bytes): refused as a whole file, before any key means anything
HOSTILE: list[tuple[str, str | bytes]] = [
    ("python/object/apply", "storage: !!python/object/apply:os.system ['touch {marker}']\n" + GOOD_MIRRORS),
    ("python/object/new", "x: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n"),
    ("python/name", "storage: !!python/name:os.system\n" + GOOD_MIRRORS),
    ("python/module", "storage: !!python/module:os\n" + GOOD_MIRRORS),
    ("python/object", "storage: !!python/object:fsmirror.FSMirror {}\n"),
    ("custom tag", "storage: !include other.yml\n" + GOOD_MIRRORS),
    ("billion laughs", BOMB + GOOD_STORAGE + GOOD_MIRRORS),
    ("self-referencing alias", "storage: &s [*s]\n" + GOOD_MIRRORS),
    ("deep nesting", "storage: " + "[" * 5000 + "]" * 5000 + "\n"),
    ("deep mapping nesting", "storage: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"),
    ("syntax error", "storage: [unclosed\n"),
    ("tab indentation", "storage:\n\tprovider: local\n"),
    ("unhashable key", "? [a]\n: 1\n"),
    ("top level a list", "- storage\n- mirrors\n"),
    ("top level a scalar", "just a string\n"),
    ("empty file", ""),
    ("only a comment", "# nothing\n"),
    ("not UTF-8", b"\xff\xfe\x00storage: x\n"),
    ("NUL byte", b"storage: {provider: local\x00}\n"),
    ("larger than 1 MB", "# " + "x" * 1_100_000 + "\n" + GOOD_STORAGE + GOOD_MIRRORS),
]


def _expect_config_error(path: Path, key: str | None) -> str:
    """Load and validate ``path``; it must fail with one ConfigError naming the file (and key)."""
    with pytest.raises(ConfigError) as info:
        FSMirror(path)
    msg = str(info.value)
    assert type(info.value) is ConfigError, msg
    assert str(path) in msg, f"message does not name the file: {msg}"
    if key is not None:
        assert f"'{key}'" in msg or f"key {key!r}" in msg, f"message does not name key {key!r}: {msg}"
    assert "Traceback" not in msg and len(msg) < 2000, msg
    return msg


def test_malformed_configs_each_raise_one_config_error_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FSMIRROR_TEST_SURELY_UNSET", raising=False)
    monkeypatch.setenv("FSMIRROR_TEST_SLASHY", "../../etc")
    assert len(CONFIGS) >= 30
    for i, (case, text, key) in enumerate(CONFIGS):
        path = tmp_path / f"c{i:02d}.yml"
        path.write_text(text)
        msg = _expect_config_error(path, key)
        assert (
            "../../etc" not in msg or case != "${VAR} expands to a path" or "${FSMIRROR_TEST_SLASHY}" in msg
        )
    print(f"\ntried {len(CONFIGS)} malformed configs: each a ConfigError naming file and key")


def test_hostile_yaml_is_refused_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for i, (case, text) in enumerate(HOSTILE):
        path = tmp_path / f"h{i:02d}.yml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text.replace("{marker}", str(marker)))
        _expect_config_error(path, None)
        assert not marker.exists(), f"{case}: the YAML ran code"
    print(f"\ntried {len(HOSTILE)} hostile YAML files (tags, alias bombs, nesting, encodings): all refused")


def test_config_paths_that_are_not_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [tmp_path / "missing.yml", tmp_path]
    for path in cases:
        with pytest.raises(ConfigError, match=str(path)):
            load_config(path)
    monkeypatch.delenv("FSMIRROR_CONFIG_PATH", raising=False)
    with pytest.raises(ConfigError, match="FSMIRROR_CONFIG_PATH"):
        load_config()
    print(f"\ntried {len(cases) + 1} config paths that are not files")


# -- generated names, ids and values: every URI stays under its tenant ---------------------------

NASTY = st.sampled_from(
    ["..", ".", "/", "\\", "\x00", "\n", "~", "%2F", "%2e%2e", "::", " ", "\u202e", "é", "@", "*"]
)
PIECE = st.one_of(st.text(max_size=12), NASTY, st.lists(NASTY, max_size=4).map("".join))
PART = st.one_of(st.from_regex(r"[a-z0-9_.~-]{1,8}", fullmatch=True), PIECE)
NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,5})?", fullmatch=True)


def _inside(fm: FSMirror, uri: str) -> None:
    """``uri`` (as fsmirror and as fsspec see it) lies strictly under the tenant, segment by segment."""
    st_ = fm.config.storage
    if st_.provider == "local":
        from fsspec.implementations.local import make_path_posix

        root = make_path_posix(os.path.normpath(st_.tenant))
        real = make_path_posix(uri)
        assert os.path.normpath(real) == real, f"{uri!r} is not normalized ({real!r})"
        assert real.startswith(root.rstrip("/") + "/"), f"{uri!r} leaves tenant {root!r}"
        tail = real[len(root.rstrip("/")) + 1 :]
    else:
        prefix = f"s3://{st_.tenant}/"
        assert uri.startswith(prefix), f"{uri!r} leaves bucket {st_.tenant!r}"
        tail = uri[len(prefix) :]
        from s3fs import S3FileSystem

        assert S3FileSystem._strip_protocol(uri) == f"{st_.tenant}/{tail}"
    for seg in tail.split("/"):
        assert seg not in ("", ".", ".."), f"{uri!r} has segment {seg!r}"
        assert "\\" not in seg and not any(ord(c) < 32 or ord(c) == 127 for c in seg), f"{uri!r}: {seg!r}"


def _mirror(tmp_path: Path, provider: str = "local", **mirror: Any) -> FSMirror:
    tenant = str(tmp_path / "store") if provider == "local" else "bucket"
    return FSMirror(
        {"storage": {"provider": provider, "tenant": tenant}, "mirrors": {"p": {"root": "project", **mirror}}}
    )


RELAXED = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def test_generated_code_addresses_stay_under_the_tenant(tmp_path: Path) -> None:
    fms = [_mirror(tmp_path), _mirror(tmp_path, "s3"), _mirror(tmp_path, layout="{module}/{name}/{run_id}")]
    tried = {"n": 0, "ok": 0}

    @settings(RELAXED, max_examples=3000)
    @given(st.lists(PART, max_size=5), st.lists(PART, max_size=3), st.one_of(NAME, PIECE), st.integers(0, 2))
    def check(before: list[str], after: list[str], name: str, which: int) -> None:
        tried["n"] += 1
        address = "/".join([*before, "project", *after, "mod.py"]) + "::" + name
        fm = fms[which]
        try:
            uri = fm.mirror_full_output(address, run_id="r1")
        except ResolveError:
            return
        _inside(fm, uri)
        tried["ok"] += 1

    check()
    print(
        f"\ntried {tried['n']} generated code addresses: {tried['ok']} resolved under the tenant, the rest ResolveError"
    )


def test_generated_run_ids_partitions_and_output_names_stay_under_the_tenant(tmp_path: Path) -> None:
    fms = [_mirror(tmp_path), _mirror(tmp_path, "s3")]
    tried = {"n": 0, "ok": 0}
    run_ids = st.one_of(PIECE, st.text(min_size=1), st.lists(PIECE, min_size=1, max_size=3).map(tuple))

    @settings(RELAXED, max_examples=4000)
    @given(run_ids, st.one_of(st.none(), PIECE), st.one_of(st.none(), PIECE), st.integers(0, 1))
    def check(run_id: Any, partition: str | None, output_name: str | None, which: int) -> None:
        tried["n"] += 1
        fm = fms[which]
        try:
            uri = fm.mirror_full_output(
                "project/etl/mod.py::Task", run_id=run_id, partition=partition, output_name=output_name
            )
        except ResolveError:
            return
        _inside(fm, uri)
        seg = fm.run_segment(run_id)
        assert "/" not in seg and f"/{seg}/" in uri
        from fsmirror.paths.runid import decode_run_id

        one_part = isinstance(run_id, tuple) and len(run_id) == 1  # ("x",) is the run "x"
        assert decode_run_id(seg) == (run_id[0] if one_part else run_id)
        tried["ok"] += 1

    check()
    print(
        f"\ntried {tried['n']} generated run ids/partitions/output names: {tried['ok']} resolved under the tenant"
    )


def test_generated_config_values_stay_under_the_tenant_or_fail_clearly(tmp_path: Path) -> None:
    tried = {"n": 0, "ok": 0}
    layouts = st.permutations(["{module}", "{run_id}", "{name}"]).map("/".join)

    @settings(RELAXED, max_examples=3000)
    @given(
        st.sampled_from(["local", "s3"]),
        st.one_of(st.sampled_from(["MIRROR", ""]), PIECE, st.none()),
        st.one_of(st.sampled_from(["MIRROR", ""]), PIECE, st.none()),
        st.one_of(st.just("project"), PIECE),
        st.one_of(st.just("out"), PIECE),
        st.one_of(
            layouts,
            st.lists(st.one_of(PIECE, st.sampled_from(["{module}", "{run_id}", "{name}"]))).map("/".join),
        ),
        st.one_of(st.just("bucket"), PIECE),
    )
    def check(
        provider: str, namespace: Any, prefix: Any, root: str, output_name: str, layout: str, bucket: str
    ) -> None:
        tried["n"] += 1
        tenant = str(tmp_path / "store") if provider == "local" else bucket
        storage: dict[str, Any] = {"provider": provider, "tenant": tenant, "namespace": namespace}
        mirror = {"root": root, "prefix": prefix, "output_name": output_name, "layout": layout}
        try:
            fm = FSMirror({"storage": storage, "mirrors": {"p": mirror}})
            uri = fm.mirror_full_output(f"a/{root}/etl/mod.py::Task", run_id="r1")
        except (ConfigError, ResolveError) as e:
            assert "Traceback" not in str(e)
            return
        _inside(fm, uri)
        tried["ok"] += 1

    check()
    print(
        f"\ntried {tried['n']} generated config values: {tried['ok']} resolved under the tenant, the rest clear errors"
    )


# -- the CLI -----------------------------------------------------------------------------------------

USAGE_ERRORS: list[list[str]] = [
    ["nosuchcommand"],
    ["--bogus"],
    ["--config"],
    ["--config", "{dir}", "resolve", "project/m.py::X"],
    ["resolve"],
    ["resolve", "--bogus", "project/m.py::X"],
    ["resolve", "project/m.py::X", "extra"],
    ["resolve", "project/m.py::X", "--mirror"],
    ["resolve", "project/m.py::X", "--run-id"],
    ["config", "nosuch"],
    ["config", "check", "a.yml", "b.yml"],
    ["config", "check", "{dir}"],
    ["config", "schema", "extra"],
    ["show"],
    ["show", "project/m.py::X", "--bogus"],
    ["runs"],
    ["ls", "a", "b"],
    ["gc", "project/m.py::X"],
    ["gc", "--keep", "-1", "project/m.py::X"],
    ["gc", "--keep", "many", "project/m.py::X"],
    ["gc", "--keep", "1"],
    ["gc", "--keep", "1", "--all", "project/m.py::X"],
    ["gc", "--keep", "1", "project/etl"],
    ["gc", "--keep", "1", "--min-age", "7 days", "project/m.py::X"],
    ["pin"],
    ["pin", "project/m.py::X", "--run-id", "~FF"],
    ["unpin"],
    ["resolve", "project/m.py::<lambda>"],  # a malformed ADDRESS is a usage error on every command
    ["resolve", "no-colons"],
    ["show", "project/m.py::<lambda>"],  # show takes any TARGET; a word that is none is exit 1
    ["lineage", "project/m.py::<lambda>"],
    ["query"],
    ["lineage"],
    ["stale", "a", "b"],
    ["ls", "a/../b"],
    ["ls", "--limit", "0"],
    ["verify", "a/../b"],
    ["show", "project/m.py::X", "--run-id", "~FF"],  # escapes that spell no UTF-8: not a segment
    ["show", "project/m.py::X", "--run-id", "é~41"],  # a raw non-ASCII character beside an escape
    ["show", "project/m.py::X", "--partition", "~FF"],
    ["lineage", "project/m.py::X", "-r", "~C3"],
]


def _cli_cases(tmp_path: Path) -> list[list[str]]:
    from fsmirror.cli import cli

    out = []
    for args in USAGE_ERRORS:
        command = next((a for a in args if not a.startswith("-") and a != "{dir}"), None)
        if command and command not in cli.commands and args[0] != "--config":  # type: ignore[attr-defined]
            continue  # a command not landed yet
        out.append([a.replace("{dir}", str(tmp_path)) for a in args])
    return out


def _invoke(args: list[str], tmp_path: Path) -> tuple[int, str]:
    from click.testing import CliRunner

    from fsmirror.cli import cli

    env = {"FSMIRROR_CONFIG_PATH": str(tmp_path / "config.yml")}
    res = CliRunner().invoke(cli, args, prog_name="fsmirror", env=env)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"fsmirror {' '.join(args)} raised {res.exception!r}")
    return res.exit_code, res.stderr


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(f"storage: {{provider: local, tenant: {tmp_path / 'store'}}}\n" + GOOD_MIRRORS)
    return path


def test_cli_bad_arguments_exit_2_with_an_error_line(tmp_path: Path, cli_config: Path) -> None:
    cases = _cli_cases(tmp_path)
    for args in cases:
        code, err = _invoke(args, tmp_path)
        assert code == 2, f"fsmirror {' '.join(args)}: exit {code}\n{err}"
        errors = [line for line in err.splitlines() if line.startswith(("Error:", "fsmirror: error:"))]
        assert len(errors) == 1 and "Traceback" not in err, f"fsmirror {' '.join(args)}:\n{err}"
    print(f"\ntried {len(cases)} bad CLI argument lists: exit 2, one error line each")


def test_cli_bad_arguments_print_exactly_one_line(tmp_path: Path, cli_config: Path) -> None:
    cases = _cli_cases(tmp_path)
    for args in cases:
        code, err = _invoke(args, tmp_path)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, f"fsmirror {' '.join(args)}:\n{err}"
    print(f"\ntried {len(cases)} bad CLI argument lists: one line each")


def test_cli_bad_values_and_configs_exit_1_with_one_line(tmp_path: Path, cli_config: Path) -> None:
    bad_cfg = tmp_path / "bad.yml"
    bad_cfg.write_text("storage: !!python/object/apply:os.system ['true']\n")
    cases = [
        ["resolve", "../../etc/passwd.py::X"],
        ["resolve", "project/m.py::X", "--run-id", ""],
        ["resolve", "project/m.py::X", "--mirror", "nosuch"],
        ["--config", str(tmp_path / "missing.yml"), "resolve", "project/m.py::X"],
        ["--config", str(bad_cfg), "resolve", "project/m.py::X"],
        ["config", "check", str(bad_cfg)],
    ]
    for args in cases:
        code, err = _invoke(args, tmp_path)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and lines[0].startswith("fsmirror: error:"), (
            f"{args}: {code}\n{err}"
        )
    print(f"\ntried {len(cases)} bad values and configs on the CLI: exit 1, one line each")


def test_the_installed_command_refuses_bad_arguments_the_same_way(tmp_path: Path) -> None:
    """One real process, so the console script and ``python -m`` behave as the in-process runner says."""
    r = subprocess.run(
        [sys.executable, "-m", "fsmirror.cli", "resolve", "--bogus"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "No such option" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_errors_are_fsmirror_errors_not_internal_ones(tmp_path: Path) -> None:
    """Wrong types passed through the Python API are refused with fsmirror's errors too."""
    fm = _mirror(tmp_path)
    bad: list[tuple[str, Any]] = [
        ("run id int", lambda: fm.mirror_full("project/m.py::X", run_id=5)),
        ("run id empty tuple", lambda: fm.mirror_full("project/m.py::X", run_id=())),
        ("run id bytes", lambda: fm.mirror_full("project/m.py::X", run_id=b"x")),
        ("partition empty", lambda: fm.mirror_full("project/m.py::X", partition="")),
        ("address int", lambda: fm.mirror_full(5)),
        ("address None", lambda: fm.mirror_full(None)),
        ("address module", lambda: fm.mirror_full(os)),
        ("address builtin", lambda: fm.mirror_full(len)),
        ("config a list", lambda: FSMirror([1, 2])),  # type: ignore[arg-type]
        ("config an int", lambda: FSMirror(5)),  # type: ignore[arg-type]
        (
            "id_method unknown",
            lambda: FSMirror(
                {"storage": {"provider": "memory", "tenant": "t"}, "mirrors": {"p": {"root": "p"}}},
                id_method="x",
            ),
        ),
        ("output format bad", lambda: fm.mirror_full_output("project/m.py::X", output_format="../x")),
    ]
    for case, call in bad:
        with pytest.raises(FSMirrorError):
            call()
            pytest.fail(f"{case}: accepted")
    print(f"\ntried {len(bad)} wrong-typed API arguments: each an FSMirrorError")


def test_a_home_relative_local_tenant_writes_and_reads_in_one_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'~/store' once wrote through os calls to ./~/store and read through fsspec from $HOME/store."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    fm = FSMirror(
        {"storage": {"provider": "local", "tenant": "~/store"}, "mirrors": {"p": {"root": "project"}}}
    )
    uri = fm.write("project/m.py::X", {"a": 1}, run_id="r1", format="json")
    assert uri.startswith(str(home / "store") + "/")
    assert fm.read("project/m.py::X", run_id="r1") == {"a": 1}
    assert list(cwd.iterdir()) == []

"""Every bad input gets its own clear error naming the file, key or object, and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsmirror import ConfigError, FSMirror, FSMirrorError, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yml"
    p.write_text(text)
    return p


def test_missing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FSMIRROR_CONFIG_PATH", raising=False)
    with pytest.raises(ConfigError, match=r"\$FSMIRROR_CONFIG_PATH is not set: export FSMIRROR_CONFIG_PATH="):
        load_config()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file '.*nope\.yml' does not exist"):
        load_config(tmp_path / "nope.yml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cfg\.yml line 2, column \d+: invalid YAML"):
        load_config(write(tmp_path, "storage: {provider: s3\nmirrors: [\n"))


def test_python_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML.*tags like !!python/object are refused"):
        load_config(write(tmp_path, "storage: !!python/object/apply:os.system ['echo pwned']\n"))


def test_alias_bomb_is_refused_before_anything_walks_it(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")
    )
    with pytest.raises(ConfigError, match="more than 10000 nodes"):
        load_config(write(tmp_path, bomb))


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("mirrors: {m: {root: r}}", r"key 'storage' is missing"),
        ("storage: {provider: s3, tenant: b}", r"key 'mirrors' is missing"),
        (
            "storage: {provider: s3, tenant: b}\nmirrors: {m: {prefix: x}}",
            r"key 'mirrors\.m\.root' is missing",
        ),
        (
            "storage: {provider: ftp, tenant: b}\nmirrors: {m: {root: r}}",
            r"key 'storage\.provider': Input should be 'local', 'memory', 's3', 'gcs' or 'blob' \(got 'ftp'\)",
        ),
        (
            "storage: {provider: s3, tenant: b, colour: red}\nmirrors: {m: {root: r}}",
            r"key 'storage\.colour' is not a known setting",
        ),
        (
            "storage: {provider: s3, tenant: b/c}\nmirrors: {m: {root: r}}",
            r"a s3 tenant is a bucket or container name without '/'",
        ),
        ("storage: {provider: s3, tenant: b}\nmirrors: {}", r"key 'mirrors'.*at least 1"),
        (
            "storage: {provider: s3, tenant: b}\nmirrors: {m: {root: ../x}}",
            r"key 'mirrors\.m\.root'.*not a single path segment",
        ),
        (
            "storage: {provider: s3, tenant: b}\nmirrors: {m: {root: r, output_format: 'par quet'}}",
            r"key 'mirrors\.m\.output_format'.*pattern",
        ),
        (
            "storage: {provider: s3, tenant: b}\nmirrors: {m: {root: r, layout: '{module}/{name}'}}",
            r"key 'mirrors\.m\.layout'.*\{run_id\} exactly once",
        ),
        (
            "storage: {provider: s3, tenant: b}\nmirrors: {m: {root: r, strict_format: maybe}}",
            r"key 'mirrors\.m\.strict_format'.*boolean",
        ),
        ("storage: {provider: s3, tenant: 5}\nmirrors: {m: {root: r}}", r"key 'storage\.tenant'.*string"),
    ],
)
def test_schema_errors_name_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"cfg\.yml: invalid config: .*{match}"):
        FSMirror(str(path))


def test_unknown_mirror_lists_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "storage: {provider: s3, tenant: b}\nmirrors: {one: {root: r}, two: {root: s}}")
    with pytest.raises(ConfigError, match=r"unknown mirror 'three'.*known: 'one', 'two'"):
        FSMirror(str(path), mirror="three")


def test_missing_env_var_in_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_VAR", raising=False)
    path = write(tmp_path, "storage: {provider: s3, tenant: '${NOPE_VAR}'}\nmirrors: {m: {root: r}}")
    with pytest.raises(
        ConfigError, match=r"key 'storage\.tenant' uses \$\{NOPE_VAR\} but \$NOPE_VAR is not set"
    ):
        FSMirror(str(path))


def test_secret_from_env_never_appears_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TENANT", "s3cr3t/value")
    path = write(tmp_path, "storage: {provider: s3, tenant: '${SECRET_TENANT}'}\nmirrors: {m: {root: r}}")
    with pytest.raises(ConfigError) as info:
        FSMirror(str(path))
    assert "s3cr3t" not in str(info.value)


def test_errors_are_catchable_as_builtins_too(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_config(tmp_path / "missing.yml")
    assert issubclass(ConfigError, FSMirrorError)

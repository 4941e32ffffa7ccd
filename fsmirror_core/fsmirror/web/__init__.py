"""``fsmirror ui``: a read-only web view of a mirror, served on 127.0.0.1 by default.

The pages stand on the services the CLI uses (:mod:`~fsmirror.services.catalog` for the
tree ``ls`` prints, :mod:`~fsmirror.services.lookup` for what ``show`` takes,
:mod:`~fsmirror.services.graph`, :mod:`~fsmirror.services.staleness`,
:mod:`~fsmirror.services.verify`), so the browser and the terminal cannot disagree.
Nothing here writes to the store.

Everything read from the store (names, run ids, orchestrator ids, cell values) was
written by whoever could write there: Jinja2's autoescape renders it as text, and the
lineage drawing (:mod:`~fsmirror.web.svg`) escapes each label itself. Flask is the
``ui`` extra, imported only when a page is served, so ``import fsmirror`` stays light.
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]

from .app import create_app, serve

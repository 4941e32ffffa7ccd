"""Store content on a terminal: always data, never markup or escape sequences.

Whatever the CLI prints from the store (directory names, run ids, addresses, URIs, cell
values of ``query``, a manifest's fields) was written by whoever could write to the store,
and a terminal acts on some characters: ESC starts a sequence (OSC 52 writes the clipboard,
OSC 8 makes a hyperlink, CSI erases lines), C1 controls (U+009B is a one-byte CSI) likewise,
bidi overrides reorder what is shown, and rich reads ``[bold]`` or ``[link=...]`` as markup
(``[/x]`` even raises ``MarkupError``). Every command prints store text through this module:

- :func:`visible` for plain output (``click.echo``): each control character (C0, DEL,
  C1), bidi control, line/paragraph separator and lone surrogate becomes a visible escape
  (ESC -> ``\\x1b``, U+202E -> ``\\u202e``), so the text stays on its one line and shows
  what is there;
- :func:`text` for rich output (``ls``'s tree, ``query``'s table): the same, as a
  ``rich.text.Text``, which rich never parses for markup or emoji codes.

JSON output needs neither: ``json.dumps`` escapes every control and non-ASCII character.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["visible", "text", "UNSAFE"]

# Bidi controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI) and the Unicode line/paragraph separators.
_BIDI_AND_BREAKS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)


_CODES = (
    *range(0x00, 0x20),  # C0
    *range(0x7F, 0xA0),  # DEL and C1
    *(ord(c) for c in _BIDI_AND_BREAKS),
    *range(0xD800, 0xE000),  # lone surrogates (undecodable file names): printing one would raise
)
UNSAFE: frozenset[str] = frozenset(map(chr, _CODES))
"""Every character :func:`visible` escapes."""

_TABLE = {o: (f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}") for o in _CODES}


def visible(value: Any) -> str:
    """``str(value)`` with every character a terminal would act on shown as an escape.

    >>> visible("run\\x1b]52;c;aGk=\\x07")
    'run\\\\x1b]52;c;aGk=\\\\x07'
    """
    return str(value).translate(_TABLE)


def text(value: Any, style: str = "") -> Text:
    """``value`` as a rich ``Text``: escaped by :func:`visible`, never read as markup."""
    from rich.text import Text

    return Text(visible(value), style=style)

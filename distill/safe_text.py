"""Text from data is data, in the terminal: a problem, a reply, a thought, a verdict reason or a server's error
text is never read as rich markup, and its control characters (other than newline and tab) are shown as
visible escapes (`\\x1b`), so nothing in the data can restyle, retitle or redraw the reader's terminal.
The one function for terminal output of data is `data()` (a rich Text); `plain()` is for plain echo."""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F: U+009B is a CSI on some terminals);
# lone surrogates (unpaired \ud800 from a JSON escape) cannot be written to a UTF-8 terminal at all
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def plain(value: Any) -> str:
    """The text with every control character shown as a visible escape: `\\x1b`, `\\x9b`, `\\ud800`."""
    text = value if isinstance(value, str) else str(value)
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def data(value: Any, style: str = "") -> Any:
    """A rich Text of the data: printed as written (never as markup), controls made visible."""
    from rich.text import Text

    return Text(plain(value), style=style)


def markup(value: Any) -> str:
    """The data escaped for use inside a rich markup string (`f"[bold]{markup(x)}[/]"`), controls made visible."""
    from rich.markup import escape

    return escape(plain(value))


def json_text(text: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with its raw DEL, C1 and lone-surrogate characters
    written as `\\uXXXX` escapes: still valid JSON, and nothing a terminal obeys or cannot encode."""
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

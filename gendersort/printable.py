"""Text that reaches a person, on a terminal or in a report page: values from file names, labels files and
results (a name with `\\x1b]0;...\\x07` in it, bytes that are not UTF-8) are shown as escapes, never raw.

A raw control character would act on the terminal (retitle it, move the cursor, hide what follows); a
byte that is not UTF-8 (held by surrogateescape) cannot be written to a UTF-8 stream or page at all.
Line breaks and tabs between lines are kept: a multi-line report stays one, each of its lines escaped.
A report page escapes its HTML and the data its script reads alike, so that a group's name in a filter
matches the same name on a card.
"""

from __future__ import annotations

import re
from typing import Any

import typer

# C0 controls but the tab and the line feed, DEL, C1 controls, and surrogates (bytes that were not UTF-8).
SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape's: U+DC80 + the byte


def escape(character: str) -> str:
    code = ord(character)
    if code in ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """The text with its control characters and undecodable bytes as `\\xNN` escapes."""
    return SPECIAL.sub(lambda match: escape(match.group()), text)


def printable_data(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with printable() strings, keys too: what a page's
    script shows then matches its HTML, where the same value is printable() too."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(key): printable_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(item) for item in value]
    return value


def echo(text: str, err: bool = False) -> None:
    """Print a line (or lines) to stdout, or stderr, printable()."""
    typer.echo(printable(text), err=err)

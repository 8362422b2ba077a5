"""Text that reaches a person, on a terminal or in a report page: values from file names, labels files and
results (a name with `\\x1b]0;...\\x07` in it, bytes that are not UTF-8) are shown as escapes, never raw.

A raw control character would act on the terminal (retitle it, move the cursor, hide what follows); a
byte that is not UTF-8 (held by surrogateescape) cannot be written to a UTF-8 stream or page at all.
Line breaks and tabs between lines are kept: a multi-line report stays one, each of its lines escaped.
"""

from __future__ import annotations

import re

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


def echo(text: str, err: bool = False) -> None:
    """Print a line (or lines) to stdout, or stderr, printable()."""
    typer.echo(printable(text), err=err)

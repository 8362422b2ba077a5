"""How the command line reads to a person: `--help` in click's plain layout and one style for every command
(flags without a type, values and arguments named in upper case, SRC DEST and PATH... alike in the usage
line and in the list below it), and usage errors without the wording of typer's validation library.

Recent typer releases draw help as a table with a type for every option (`--quiet -q <bool>`) and put
required arguments in braces (`{src}`); the commands here ask for the plain layout instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer
from typer.core import TyperCommand

# Typer turns a bad choice into a validation error whose message begins with this.
VALIDATION_PREFIX = "Value error, "


def choices(names: Iterable[str]) -> str:
    """The metavar of an option that takes one of a few words, as click writes it: [csv|jsonl]."""
    return f"[{'|'.join(names)}]"


def argument_name(argument: Any) -> str:
    """PATH..., SRC, [PATH]: the metavar (else the name) in upper case, `...` when it repeats, in brackets
    when it may be left out."""
    name = (argument.metavar or argument.name).upper() + ("..." if argument.nargs != 1 else "")
    return name if argument.required else f"[{name}]"


class PlainHelpCommand(TyperCommand):
    """A command whose usage line and argument list name the arguments the same way (argument_name)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        params = self.get_params(ctx)
        arguments = [argument_name(param) for param in params if param.param_type_name == "argument"]
        return [*([self.options_metavar] if self.options_metavar else []), *arguments]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        arguments = [(argument_name(param).strip("[]"), param.help or "")
                     for param in params if param.param_type_name == "argument"]
        options = [record for param in params
                   if param.param_type_name == "option" and (record := param.get_help_record(ctx))]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class PlainHelpTyper(typer.Typer):
    """typer.Typer with the plain help layout, for the group and for every command added to it."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(rich_markup_mode=None, **settings)

    def command(self, *args: Any, **settings: Any) -> Any:
        settings.setdefault("cls", PlainHelpCommand)
        return super().command(*args, **settings)


def plain_usage_message(message: str) -> str:
    """"'xml' is not one of 'csv', 'jsonl'." rather than "Value error, 'xml' is not one of ..."."""
    return message.removeprefix(VALIDATION_PREFIX)

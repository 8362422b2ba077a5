"""The `gendersort` group: one-line errors instead of tracebacks, usage errors exiting 1."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Annotated, Any

import typer
from PIL import Image
from typer.core import TyperGroup

from gendersort import __version__
from gendersort.cli.help import PlainHelpTyper, plain_usage_message
from gendersort.errors import FatalError
from gendersort.printable import echo, printable

try:  # recent typer releases bundle their own copy of click
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

# 0 every file processed; 1 usage or fatal error; 2 finished, but some files had errors; 3 no photo found
# (an empty folder, or one of files that are not images: a wrong path, more likely than not); 130 stopped
# by Ctrl-C (the shell's code for SIGINT)
EXIT_OK, EXIT_FATAL, EXIT_FILE_ERRORS, EXIT_NO_PHOTO, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Commands(TyperGroup):
    """Makes a bad command line exit 1, as documented (click's own code for it, 2, means 'finished with
    per-file errors' here), and shows fatal errors as one line instead of a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with usage_errors_exit_1():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with usage_errors_exit_1(), warnings.catch_warnings():
            # photos/decode.py reports such files as errors (in the reading threads, where catching it is
            # unsafe)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                return super().invoke(ctx)
            except BrokenPipeError:
                raise  # the reader went away (| head): typer exits quietly
            except (FatalError, OSError) as error:
                echo(f"gendersort: error: {error}", err=True)
                raise typer.Exit(EXIT_FATAL) from None


@contextmanager
def usage_errors_exit_1() -> Iterator[None]:
    try:
        yield
    except UsageError as error:
        error.exit_code = EXIT_FATAL
        error.message = printable(plain_usage_message(error.message))
        raise


app = PlainHelpTyper(
    # typer's completion: --install-completion (it writes to the shell's start-up file, only when asked)
    # and --show-completion (prints the script, to install by hand)
    cls=Commands, no_args_is_help=True, add_completion=True,
    help="Tell, for every photo in a folder tree, whether the face in it is male or female.",
    epilog=("Exit codes: 0 all files processed, 1 usage or fatal error, 2 finished with per-file errors, "
            "3 no photo found, 130 interrupted (Ctrl-C)."),
)


def show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"gendersort {__version__} (onnxruntime {onnxruntime_version()}, Python "
                   f"{platform.python_version()})")
        raise typer.Exit(EXIT_OK)


def onnxruntime_version() -> str:
    """Read from the installed package's metadata, without importing it (nor starting anything of it)."""
    for distribution in ("onnxruntime", "onnxruntime-gpu"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


@app.callback()
def main(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=show_version, help="Show the version and exit.")] = False,
         ) -> None:
    pass  # the group's own options: --version (typer adds the completion options)


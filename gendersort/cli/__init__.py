"""The `gendersort` command: a thin typer layer over gendersort.pipeline.api, a module per command
(app.py the group, options.py what the commands share, help.py how their --help reads).

Exit codes: 0 every file processed; 1 usage or fatal error (nothing or not everything was done);
2 finished, but some files could not be read (they are listed, and have status "error"); 3 no photo
found (an empty folder, or files that are not images), nothing done.
"""

from gendersort.cli import classify, evaluate, info, predict, report, sort, view  # noqa: F401 (the commands)
from gendersort.cli.app import app

__all__ = ["app"]

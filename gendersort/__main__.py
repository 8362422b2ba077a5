"""`python -m gendersort` runs the command line."""

from gendersort.cli import app

app(prog_name="gendersort")

"""Errors that end a whole run (exit 1) instead of being reported for a single file."""


class FatalError(Exception):
    """Stops the run; its message is shown as is, without a traceback."""


class BadOptionError(FatalError, ValueError):
    """Options that contradict each other or name nothing usable."""

"""Outputs: the rows a run writes, resuming them, and sorting the files by label."""

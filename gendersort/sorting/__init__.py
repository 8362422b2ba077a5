"""Sorting: `gendersort sort` as a job (job.py) that drives the pipeline and places each file in male/,
female/ or unknown/ (transfers.py: a verified copy, a link or a move, never over another file), with a
manifest that lets a rerun finish what an interrupted one began. A stage of its own, after outputs/: a
command, not an output."""

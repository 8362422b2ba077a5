"""How right the model is on labelled photos (`gendersort evaluate`).

labels_file.py reads the labels (a CSV, or a tree's male/ and female/ folders), grouping.py the `--by`
groups, matching.py pairs labels with result rows, scoring.py scores (the one way gendersort scores, export/
uses it too) with metrics.py and intervals.py, audit.py holds a scored set and its JSON, printout.py what the
terminal shows.
"""

"""Review: looking at results afterwards, one concern a sub-package.

report/      `gendersort report`: one self-contained HTML page over a run's results
viewer/      `gendersort view`: a desktop window, one photo at a time
evaluation/  how right the model is on labelled photos: labels, matching, the one scoring, what it prints
Beside them what they share: results_file.py (a results file read back into rows), sentences.py (`predict`'s
sentences) and evaluate.py (the `evaluate` command's flow: evaluation/ scores, report/ draws).
"""

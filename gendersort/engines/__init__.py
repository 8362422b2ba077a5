"""Engines that run gendersort's per-photo core somewhere else than this process's threads.

The local engine is gendersort.pipeline itself (api.classify_files on reading.py's threads). Each other
engine is a sub-package here that lists photos, hands them to that same core and writes its rows:
ray/ for Ray Data clusters. A new engine goes beside it.
"""

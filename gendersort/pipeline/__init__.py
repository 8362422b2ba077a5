"""Pipeline: run photos through decoding, detection and classification, in order, on threads; results.py
is what it says about each photo."""

"""Pipeline: run photos through decoding, detection and classification, in order, on threads."""

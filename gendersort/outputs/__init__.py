"""Outputs: the rows a run writes (CSV, JSONL, Parquet), crash-safe, and resuming them."""

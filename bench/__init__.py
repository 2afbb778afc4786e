"""sekisho's benchmark harness (bench/run): see bench/run.py."""

"""`make bench`: the generated servers' throughput against the framework's ceiling (see run.py)."""

"""Benchmarks of callops: tooling beside the product, not part of the installed package.

Run from the repository root (the Makefile targets do), e.g. ``python -m benchmarks.pipeline``:

- ``pipeline``   `make bench` / `make bench-small`: backfill and daily run through the CLI against a
                 DuckDB floor and pandas; records in docs/bench/.
- ``simulator``  `make simulate-bench`: simulator speed at 100,000 calls a day.
- ``staffing``   `make staffing-bench`: Erlang C and Erlang A agent searches on 350,400 intervals.
"""

"""duban's benchmarks (`python -m bench`; docs/benchmarks.md)."""

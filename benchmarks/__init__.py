"""Benchmarks of the built image against the raw Docker engine: `python3 build.py --bench`."""

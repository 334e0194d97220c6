"""Benchmarks of the mock against Prism and across account sizes: `python -m bench.run --help`."""

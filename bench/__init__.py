"""Benchmarks: every figure a ratio to a baseline measured beside it (`make bench`)."""

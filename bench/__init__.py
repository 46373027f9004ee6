"""Benchmarks: each module prints its figures and writes them to bench/results/."""

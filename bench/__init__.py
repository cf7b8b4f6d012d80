"""Benchmarks: `python -m bench` runs them all and prints one table.

Every figure is measured beside a baseline taken in the same run, and the
ratio between them is the figure to read: these machines are shared and noisy.
"""

"""Helpers for tests and benchmarks, shipped with the package (as mitmproxy does)."""

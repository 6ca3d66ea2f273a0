"""Per-client counters and windows, behind a protocol (memory now, Redis later)."""

"""The JA4 → client-family table (data/ja4_clients.json): which client a TLS hello is from.

Entries come from ClientHellos captured from real clients (botwarden.testing.tls_capture)
and from FoxIO's public mapping; tests re-capture live to keep the table true.
"""

from __future__ import annotations

import functools
import json

from botwarden import data

TABLE = "ja4_clients.json"
KINDS = frozenset({"browser", "library", "tool"})


@functools.cache
def _load(name: str) -> dict[str, tuple[str, str]]:
    doc = json.loads(data.path(name).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise ValueError(f"{name}: expected {{'version': 1, 'entries': [...]}}")
    table: dict[str, tuple[str, str]] = {}
    for i, entry in enumerate(doc.get("entries", [])):
        ja4, family, kind = entry.get("ja4"), entry.get("family"), entry.get("kind")
        if not (isinstance(ja4, str) and isinstance(family, str) and kind in KINDS):
            raise ValueError(f"{name}: entry {i} needs ja4, family and kind ({sorted(KINDS)})")
        if ja4 in table and table[ja4] != (family, kind):
            raise ValueError(f"{name}: {ja4} is listed as {table[ja4][0]} and as {family}")
        table[ja4] = (family, kind)
    return table


def load_ja4_families() -> dict[str, tuple[str, str]]:
    """JA4 → (family, kind), e.g. `"t13d3112h2_…": ("curl", "tool")`. A fresh copy."""
    return dict(_load(TABLE))


def family_of(ja4: str) -> tuple[str, str] | None:
    """(family, kind) of a JA4, or None when the table does not know it."""
    return _load(TABLE).get(ja4)

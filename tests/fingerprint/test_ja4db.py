"""The packaged JA4 → client-family table."""

from __future__ import annotations

import json

import pytest

from botwarden import data
from botwarden.fingerprint import ja4db
from botwarden.fingerprint.tls import parse_client_hello
from botwarden.testing.tls_capture import build_ja4_table, client_of, foxio_entries
from tests.fingerprint.hellos import CAPTURES, FIXTURES


def test_table_loads_and_has_every_family() -> None:
    table = ja4db.load_ja4_families()
    families = {family for family, _ in table.values()}
    assert {"chrome", "firefox", "safari", "curl", "python", "go"} <= families
    assert {kind for _, kind in table.values()} <= ja4db.KINDS
    table.clear()  # a copy: the cached table is untouched
    assert ja4db.load_ja4_families()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_capture_is_in_the_table_under_its_family(name: str) -> None:
    client = client_of(name)
    ja4 = parse_client_hello(FIXTURES[name]).ja4
    assert ja4db.family_of(ja4) == (client.family, client.kind)


def test_table_is_built_from_the_committed_captures() -> None:
    # Regenerate with BOTWARDEN_RECAPTURE=1 (tests/fingerprint/test_tls_capture.py).
    committed = json.loads(data.path(ja4db.TABLE).read_text(encoding="utf-8"))
    assert committed == build_ja4_table(CAPTURES)


def test_foxio_entries_leave_out_ambiguous_fingerprints() -> None:
    entries = {e["ja4"]: e for e in foxio_entries()}
    assert entries["t13d1516h2_8daaf6152771_02713d6af862"]["family"] == "chrome"
    assert entries["t13d1715h2_5b57614c22b0_7121afd63204"]["family"] == "firefox"
    assert entries["t13d2014h2_a09f3c656075_14788d8d241b"]["family"] == "safari"
    assert entries["t13d190900_9dc949149365_97f8aa674fd9"]["family"] == "go"
    assert entries["t13d181000_85036bcba153_d41ae481755e"]["family"] == "python"
    # FoxIO lists this one as both Go and WinINET: the table must not guess.
    assert "t12d190800_d83cc789557e_7af1ed941c26" not in entries
    # Malware and devices are not client families.
    assert all(
        e["family"] in {"chrome", "firefox", "safari", "python", "go"} for e in entries.values()
    )
    assert all("FoxIO" in e["source"] for e in entries.values())


def test_bad_table_is_refused(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = {"version": 1, "entries": [{"ja4": "x", "family": "chrome", "kind": "robot"}]}
    target = tmp_path / "bad.json"  # type: ignore[operator]
    target.write_text(json.dumps(bad), encoding="utf-8")
    monkeypatch.setattr(data, "path", lambda name: target)
    with pytest.raises(ValueError, match="entry 0 needs ja4, family and kind"):
        ja4db._load("bad.json")
    ja4db._load.cache_clear()

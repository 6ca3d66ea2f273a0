"""The event schema: the rules' view of the table, derived columns, privacy."""

from __future__ import annotations

import ipaddress
from itertools import zip_longest

import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from botwarden.analytics.events import (
    BY_NAME,
    COLUMNS,
    SCHEMA,
    AddressCache,
    Event,
    _addresses,
    _ip_pair,
    event_from_request,
    events_to_arrow,
    finish,
    records_to_arrow,
    zone_key,
)
from botwarden.analytics.privacy import Privacy
from botwarden.errors import ConfigError
from botwarden.result import BotManagement, JSDetection, ScoreSource
from botwarden.testing import events_table

from .helpers import T0, batch, ev


def test_columns_the_rules_read_have_the_rules_types() -> None:
    for name, duck, ch, _ in events_table.COLUMNS:
        assert name in BY_NAME, name
        assert BY_NAME[name].duckdb == duck, name
        assert BY_NAME[name].clickhouse == ch, name


def test_schema_carries_its_version() -> None:
    assert SCHEMA.metadata[b"botwarden.schema_version"] == b"1"
    assert [f.name for f in SCHEMA] == [c.name for c in COLUMNS]


def test_finish_derives_columns() -> None:
    t = batch(
        [
            ev(0, score=0, score_src="Not Computed"),
            ev(1, score=1),
            ev(2, score=29),
            ev(3, score=30),
            ev(4, score=1, verified_bot=True),
            ev(5, client_ip="::ffff:192.0.2.1", js_detection="passed"),
            ev(6, client_ip="not an ip"),
        ],
        first_seq=41,
    )
    assert t.schema == SCHEMA
    assert t.column("grouping").to_pylist()[:5] == [
        "not_computed",
        "automated",
        "likely_automated",
        "likely_human",
        "verified_bot",
    ]
    assert t.column("seq").to_pylist() == list(range(41, 48))
    assert t.column("client_ip").to_pylist()[5:] == ["::ffff:192.0.2.1", "not an ip"]
    assert (
        t.column("ip_key").to_pylist()[5]
        == "6" + f"{int(ipaddress.ip_address('::ffff:192.0.2.1')):032x}"
    )
    assert t.column("ip_key").to_pylist()[6] == ""
    assert t.column("js_detection_passed").to_pylist()[5] is True
    assert set(t.column("zone_key").to_pylist()) == {zone_key("shop.example")}


@pytest.mark.parametrize("privacy", [Privacy(), Privacy(ip_mode="truncate")])
def test_addresses_in_bulk_agree_with_one_at_a_time(privacy: Privacy) -> None:
    """Canonical IPv4 text is keyed in bulk, everything else address by address: wherever
    the others sit among the canonical ones, each row gets what `_ip_pair` gives it."""
    others = [
        "010.0.0.1",
        "1.2.3.256",
        " 192.0.2.7",
        "2001:db8::1",
        "::ffff:192.0.2.1",
        "not an ip",
        "",
        "1.2.3",
    ]
    canonical = [f"198.51.100.{i}" for i in range(0, 256, 17)] + ["0.0.0.0", "255.255.255.255"]
    mixed = [a for pair in zip_longest(canonical, others) for a in pair if a is not None]
    for arrangement in (others + canonical, canonical + others, mixed):
        rows = [*arrangement, *arrangement[::3]]  # repeats: one distinct value, many rows
        text, keys = _addresses(pa.array(rows, pa.string()), AddressCache(privacy))
        expected = [_ip_pair(r, privacy) for r in rows]
        assert list(zip(text.to_pylist(), keys.to_pylist(), strict=True)) == expected
    text, keys = _addresses(pa.array(others, pa.string()), AddressCache(privacy))  # no bulk part
    assert list(zip(text.to_pylist(), keys.to_pylist(), strict=True)) == [
        _ip_pair(r, privacy) for r in others
    ]


def test_event_from_request_reads_context_and_result() -> None:
    from botwarden.request import RequestContext

    ctx = RequestContext(
        client_ip="203.0.113.9",
        host="Shop.Example",
        path="/p",
        query="q=1",
        headers=(("User-Agent", "curl/8.5.0"), ("Accept", "*/*")),
        timestamp=T0,
        zone="shop.example",
        request_id="abc",
    )
    bm = BotManagement(
        score=1,
        score_src=ScoreSource.HEURISTICS,
        ja4="t13d",
        js_detection=JSDetection.FAILED,
        detection_ids=[7],
        model_version="v1",
    )
    e = event_from_request(ctx, bm, status=403, action="block", rule_id="r", features=[0.5])
    assert e.host == "shop.example"
    assert e.user_agent == "curl/8.5.0"
    assert e.score_src == "Heuristics"
    assert e.js_detection == "failed"
    assert e.detection_ids == (7,)
    assert e.features == (0.5,)
    assert e.header_fp == ctx.header_order_fp
    t = finish(events_to_arrow([e]), spool_id="s", first_seq=1)
    assert t.column("grouping").to_pylist() == ["automated"]


def test_records_fill_defaults() -> None:
    t = records_to_arrow([{"ts": T0, "client_ip": "192.0.2.1"}])
    f = finish(t, spool_id="s", first_seq=1)
    row = f.to_pylist()[0]
    assert row["method"] == "GET"
    assert row["score_src"] == "Not Computed"
    assert row["detection_ids"] == []
    assert row["status"] is None


def test_finish_fills_missing_and_null_columns() -> None:
    t = pa.table(
        {
            "ts": pa.array([1_000_000], pa.timestamp("us")),
            "client_ip": ["192.0.2.1"],
            "path": pa.array([None], pa.string()),
        }
    )
    row = finish(t, spool_id="s", first_seq=1).to_pylist()[0]
    assert row["path"] == "/"
    assert row["zone"] == ""


def test_empty_batch() -> None:
    assert finish(events_to_arrow([]), spool_id="s", first_seq=1).num_rows == 0


@pytest.mark.parametrize(
    ("privacy", "ip", "stored", "key"),
    [
        (Privacy(), "203.0.113.77", "203.0.113.77", "4cb00714d"),
        (Privacy(ip_mode="truncate"), "203.0.113.77", "203.0.113.0", "4cb007100"),
        (Privacy(ip_mode="truncate", ipv4_prefix=16), "203.0.113.77", "203.0.0.0", "4cb000000"),
        (
            Privacy(ip_mode="truncate"),
            "2001:db8:1:2::9",
            "2001:db8:1::",
            "620010db80001" + "0" * 20,
        ),
        (Privacy(ip_mode="truncate"), "::ffff:203.0.113.77", "203.0.113.0", "4cb007100"),
    ],
)
def test_privacy_of_addresses(privacy: Privacy, ip: str, stored: str, key: str) -> None:
    row = finish(events_to_arrow([ev(client_ip=ip)]), spool_id="s", first_seq=1, privacy=privacy)
    assert row.column("client_ip").to_pylist() == [stored]
    assert row.column("ip_key").to_pylist() == [key]


def test_keyed_hashing_pseudonymises_and_is_stable() -> None:
    p = Privacy(ip_mode="hash", key=b"k" * 32)
    q = Privacy(ip_mode="hash", key=b"j" * 32)
    t = finish(
        events_to_arrow([ev(client_ip="203.0.113.7"), ev(client_ip="203.0.113.7")]),
        spool_id="s",
        first_seq=1,
        privacy=p,
    )
    a, b = t.column("client_ip").to_pylist()
    assert a == b
    assert a.startswith("h:")
    assert "203" not in a
    assert t.column("ip_key").to_pylist() == ["", ""]
    assert q.pseudonym("203.0.113.7") != a


def test_session_ids_are_always_hashed() -> None:
    t = batch([ev(session_id="secret"), ev(session_id="")])
    hashed, empty = t.column("session_id").to_pylist()
    assert len(hashed) == 16
    assert hashed != "secret"
    assert empty == ""
    keyed = finish(
        events_to_arrow([ev(session_id="secret")]),
        spool_id="s",
        first_seq=1,
        privacy=Privacy(key=b"x" * 32),
    )
    assert keyed.column("session_id").to_pylist() != [hashed]


def test_privacy_settings_are_validated_together() -> None:
    with pytest.raises(ConfigError) as exc:
        Privacy(ip_mode="hash", ipv4_prefix=40).check()
    assert "ipv4_prefix" in str(exc.value)
    assert "key" in str(exc.value)


def test_event_is_a_plain_tuple() -> None:
    e = Event(ts=T0, client_ip="192.0.2.1")
    assert isinstance(e, tuple)
    assert e.score == 0


def test_the_docs_describe_every_column() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "analytics.md").read_text()
    missing = [c.name for c in COLUMNS if f"`{c.name}`" not in doc]
    assert not missing, f"docs/analytics.md does not describe {missing}"

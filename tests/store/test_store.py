"""The store's conformance suite: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from botwarden import store
from botwarden.errors import ConfigError
from botwarden.store import (
    Conflict,
    FeedbackInput,
    FeedbackStatus,
    FeedbackType,
    Grant,
    NotFound,
    Permission,
    Plan,
    RuleInput,
)
from botwarden.store.db import current_revision, head_revision
from botwarden.store.models import Base
from tests.store.helpers import sqlite_url

SEED_KEY = "c2547eb745079dac9320b638f5e225cf483cc5cfdda41"
SEED_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"


def _setup(st: store.Store) -> tuple[store.Account, store.User, store.Zone]:
    acct = st.create_account("Acme")
    user, _ = st.create_user("user@example.com", SEED_KEY, account_ids=[acct.id])
    zone = st.create_zone(acct.id, "example.com", Plan.ENTERPRISE, id=SEED_ZONE)
    return acct, user, zone


def _report(**kw: object) -> FeedbackInput:
    base: dict[str, object] = {
        "type": FeedbackType.FALSE_POSITIVE,
        "description": "humans scored low",
        "expression": "cf.bot_management.score lt 30",
        "first_request_seen_at": datetime(2022, 8, 1, tzinfo=UTC),
        "last_request_seen_at": datetime(2022, 8, 10, tzinfo=UTC),
        "requests": 100,
        "requests_by_score": {"1": 50, "10": 50},
    }
    base.update(kw)
    return FeedbackInput(**base)  # type: ignore[arg-type]


def test_schema_is_at_head_and_matches_the_models(st: store.Store) -> None:
    assert current_revision(st.engine) == head_revision()
    with st.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_open_twice_is_a_no_op(st: store.Store) -> None:
    _setup(st)
    again = store.Store(st.engine)
    from botwarden.store import db

    db.upgrade(st.engine)
    assert again.get_zone(SEED_ZONE).name == "example.com"


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    st = store.open(sqlite_url(tmp_path))
    with st.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    st.close()


def test_default_url_is_a_wal_sqlite_file_under_data() -> None:
    assert store.DEFAULT_URL == "sqlite:///data/botwarden.db"


def test_unsupported_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="only sqlite"):
        store.open("mysql://localhost/x")
    with pytest.raises(ConfigError, match="psycopg"):
        store.open("postgresql+psycopg2://localhost/x")


def test_keys_and_tokens_are_stored_hashed(st: store.Store) -> None:
    acct, user, _ = _setup(st)
    _, token = st.create_token(
        user.id, "ci", [Grant(frozenset({Permission.ZONE_READ}), account_ids=frozenset({acct.id}))]
    )
    with st.engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM users")).all())
        dump += repr(conn.execute(text("SELECT * FROM api_tokens")).all())
    assert SEED_KEY not in dump
    assert token not in dump
    assert st.authenticate_key("User@Example.com", SEED_KEY) == user
    assert st.authenticate_key("user@example.com", SEED_KEY[:-1] + "0") is None
    assert st.authenticate_key("nobody@example.com", SEED_KEY) is None
    tok = st.authenticate_token(token)
    assert tok is not None
    assert tok.user_id == user.id
    assert tok.grants[0].permissions == {Permission.ZONE_READ}
    assert st.authenticate_token(token + "x") is None


def test_weak_or_duplicate_secrets_are_refused(st: store.Store) -> None:
    acct, user, _ = _setup(st)
    with pytest.raises(ValueError, match="at least 32"):
        st.create_user("short@example.com", "hunter2")
    with pytest.raises(Conflict):
        st.create_user("user@example.com", SEED_KEY)
    grant = [Grant(frozenset({Permission.ZONE_READ}), account_ids=frozenset({acct.id}))]
    _, value = st.create_token(user.id, "a", grant)
    with pytest.raises(Conflict):
        st.create_token(user.id, "b", grant, value=value)
    with pytest.raises(ValueError, match="grant"):
        st.create_token(user.id, "c", [Grant(frozenset({Permission.ZONE_READ}))])


def test_generated_keys_look_like_cloudflare_keys(st: store.Store) -> None:
    user, key = st.create_user("gen@example.com")
    assert len(key) == 37
    assert int(key, 16) >= 0
    assert st.authenticate_key("gen@example.com", key) == user


def test_zones(st: store.Store) -> None:
    acct, _, zone = _setup(st)
    assert zone.id == SEED_ZONE
    assert zone.plan is Plan.ENTERPRISE
    assert zone.account_name == "Acme"
    other = st.create_account("Other")
    z2 = st.create_zone(other.id, "Shop.Example.", "pro")
    assert z2.name == "shop.example"
    assert len(z2.id) == 32
    zones, total = st.list_zones(account_ids=[acct.id])
    assert total == 1
    assert zones[0].id == SEED_ZONE
    zones, total = st.list_zones(account_ids=[], zone_ids=[z2.id])
    assert [z.id for z in zones] == [z2.id]
    _, total = st.list_zones()
    assert total == 2
    page, total = st.list_zones(per_page=1, page=2)
    assert total == 2
    assert len(page) == 1
    with pytest.raises(Conflict):
        st.create_zone(acct.id, "other.example", id=SEED_ZONE)
    with pytest.raises(ValueError, match="32 hexadecimal"):
        st.create_zone(acct.id, "x.example", id="nothex")
    with pytest.raises(NotFound):
        st.get_zone("0" * 32)
    assert st.set_zone_plan(z2.id, Plan.BUSINESS).plan is Plan.BUSINESS


def test_settings_and_config_version(st: store.Store) -> None:
    _, _, zone = _setup(st)
    v0 = st.config_version()
    s = st.get_settings(zone.id)
    assert s.enable_js
    assert not s.fight_mode
    assert s.sbfm_definitely_automated == "allow"
    s2 = st.update_settings(zone.id, {"fight_mode": True, "anomaly_detection": True})
    assert s2.fight_mode
    assert s2.anomaly_detection
    assert st.get_settings(zone.id) == s2
    assert st.config_version() == v0 + 1
    with pytest.raises(ValueError, match="unknown settings"):
        st.update_settings(zone.id, {"nope": 1})
    with pytest.raises(NotFound):
        st.update_settings(zone.id, {"model_pin": "v-missing"})


def test_rulesets_keep_order_ids_and_versions(st: store.Store) -> None:
    _, _, zone = _setup(st)
    with pytest.raises(NotFound):
        st.get_phase_ruleset(zone.id, "http_request_firewall_custom")
    rs = st.put_phase_ruleset(
        zone.id,
        "http_request_firewall_custom",
        [
            RuleInput("ip.src eq 192.0.2.1", "block", fingerprint="f1"),
            RuleInput('http.host eq "a"', "log", description="second", fingerprint="f2"),
        ],
    )
    assert rs.version == 1
    assert [r.action for r in rs.rules] == ["block", "log"]
    first, second = rs.rules
    assert first.version == 1
    assert first.compiled_ok
    assert first.fingerprint == "f1"
    # Replace: the first keeps its id (changed → version 2), the second goes, a third comes.
    rs = st.put_phase_ruleset(
        zone.id,
        "http_request_firewall_custom",
        [
            RuleInput("ip.src eq 192.0.2.2", "block", id=first.id),
            RuleInput("ssl", "managed_challenge"),
        ],
    )
    assert rs.version == 2
    assert rs.rules[0].id == first.id
    assert rs.rules[0].version == 2
    assert second.id not in {r.id for r in rs.rules}
    rs = st.add_rule(zone.id, rs.id, RuleInput("not ssl", "log"), position=0)
    assert [r.expression for r in rs.rules] == ["not ssl", "ip.src eq 192.0.2.2", "ssl"]
    rs = st.update_rule(zone.id, rs.id, first.id, RuleInput("ip.src eq 192.0.2.3", "block"), 2)
    assert [r.expression for r in rs.rules] == ["not ssl", "ssl", "ip.src eq 192.0.2.3"]
    rs = st.delete_rule(zone.id, rs.id, rs.rules[0].id)
    assert [r.expression for r in rs.rules] == ["ssl", "ip.src eq 192.0.2.3"]
    assert st.get_ruleset(zone.id, rs.id) == rs
    assert st.list_rulesets(zone.id) == [rs]
    with pytest.raises(NotFound):
        st.get_ruleset("0" * 32, rs.id)
    with pytest.raises(NotFound):
        st.delete_rule(zone.id, rs.id, "f" * 32)
    st.set_rules_compiled({rs.rules[0].id: False})
    assert not st.get_ruleset(zone.id, rs.id).rules[0].compiled_ok


def test_lists_items_and_references(st: store.Store) -> None:
    acct, _, zone = _setup(st)
    lst = st.create_list(acct.id, "office", "ip", "our offices")
    with pytest.raises(Conflict):
        st.create_list(acct.id, "office", "ip")
    assert st.add_list_items(acct.id, lst.id, [("192.0.2.0/24", "hq"), ("198.51.100.7", "")]) == 2
    assert st.add_list_items(acct.id, lst.id, [("192.0.2.0/24", "HQ")]) == 2
    items, total = st.list_items(acct.id, lst.id)
    assert total == 2
    assert items[0].comment == "HQ"
    kind, values = st.list_values(acct.id)["office"]
    assert (kind, sorted(values)) == ("ip", ["192.0.2.0/24", "198.51.100.7"])
    assert st.add_list_items(acct.id, lst.id, [("203.0.113.9", "")], replace_all=True) == 1
    items, _ = st.list_items(acct.id, lst.id)
    assert st.delete_list_items(acct.id, lst.id, [items[0].id]) == 0
    st.put_phase_ruleset(
        zone.id, "http_request_firewall_custom", [RuleInput("ip.src in $office", "allow")]
    )
    got = st.get_list(acct.id, lst.id)
    assert got.num_referencing_filters == 1
    assert got.description == "our offices"
    with pytest.raises(Conflict, match="used by 1 rule"):
        st.delete_list(acct.id, lst.id)
    st.put_phase_ruleset(zone.id, "http_request_firewall_custom", [])
    st.delete_list(acct.id, lst.id)
    assert st.list_lists(acct.id) == []
    with pytest.raises(NotFound):
        st.get_list(acct.id, lst.id)


def test_feedback_lifecycle(st: store.Store) -> None:
    _, user, zone = _setup(st)
    rep, created = st.create_feedback(zone.id, _report(), created_by=user.email, request_hash="h1")
    assert created
    assert rep.status is FeedbackStatus.PENDING
    assert rep.requests == 100
    assert rep.first_request_seen_at == datetime(2022, 8, 1, tzinfo=UTC)
    assert st.get_feedback(zone.id, rep.id) == rep
    with pytest.raises(NotFound):
        st.get_feedback("0" * 32, rep.id)
    fn, _ = st.create_feedback(
        zone.id,
        _report(type=FeedbackType.FALSE_NEGATIVE, subtype="scraping"),
        created_by=user.email,
        request_hash="h2",
    )
    reports, total = st.list_feedback(zone.id)
    assert total == 2
    assert {r.id for r in reports} == {rep.id, fn.id}
    reports, total = st.list_feedback(zone.id, type=FeedbackType.FALSE_NEGATIVE)
    assert total == 1
    assert reports[0].subtype == "scraping"
    reports, total = st.list_feedback(zone.id, per_page=1, page=2)
    assert total == 2
    assert len(reports) == 1
    reviewed = st.review_feedback(
        zone.id, rep.id, status=FeedbackStatus.ACCEPTED, reviewer="ops@example.com", note="ok"
    )
    assert reviewed.status is FeedbackStatus.ACCEPTED
    assert reviewed.reviewer == "ops@example.com"
    assert reviewed.reviewed_on is not None
    assert reviewed.note == "ok"
    assert st.list_feedback(zone.id, status=FeedbackStatus.PENDING)[1] == 1
    assert st.mark_feedback_labelled([rep.id, fn.id]) == 1  # fn is still pending
    with pytest.raises(Conflict):
        st.review_feedback(zone.id, rep.id, status=FeedbackStatus.REJECTED, reviewer="x")


def test_feedback_idempotency(st: store.Store) -> None:
    _, user, zone = _setup(st)
    a, created_a = st.create_feedback(
        zone.id, _report(), created_by=user.email, request_hash="h", idempotency_key="k1"
    )
    b, created_b = st.create_feedback(
        zone.id, _report(), created_by=user.email, request_hash="h", idempotency_key="k1"
    )
    assert created_a
    assert not created_b
    assert a == b
    with pytest.raises(Conflict, match="Idempotency-Key"):
        st.create_feedback(
            zone.id, _report(), created_by=user.email, request_hash="other", idempotency_key="k1"
        )
    assert st.list_feedback(zone.id)[1] == 1


def test_feedback_idempotency_under_concurrency(st: store.Store) -> None:
    _, user, zone = _setup(st)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        try:
            barrier.wait()
            rep, created = st.create_feedback(
                zone.id, _report(), created_by=user.email, request_hash="h", idempotency_key="race"
            )
            results.append((rep.id, created))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({rid for rid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert st.list_feedback(zone.id)[1] == 1


def test_models_promote_and_pin(st: store.Store) -> None:
    _, _, zone = _setup(st)
    assert st.latest_model() is None
    m1 = st.register_model("2024.1", metrics={"auc": 0.97}, fingerprint="abc")
    st.register_model("2024.2", metrics={"auc": 0.98})
    with pytest.raises(Conflict):
        st.register_model("2024.1")
    models, total = st.list_models()
    assert total == 2
    assert {m.version for m in models} == {"2024.1", "2024.2"}
    assert st.get_model("2024.1") == m1
    assert m1.metrics == {"auc": 0.97}
    v = st.config_version()
    st.promote_model("2024.1")
    latest = st.latest_model()
    assert latest is not None
    assert latest.version == "2024.1"
    assert st.config_version() == v + 1
    st.promote_model("2024.2")
    latest = st.latest_model()
    assert latest is not None
    assert latest.version == "2024.2"
    assert st.update_settings(zone.id, {"model_pin": "2024.1"}).model_pin == "2024.1"
    assert st.update_settings(zone.id, {"model_pin": None}).model_pin is None
    with pytest.raises(NotFound):
        st.promote_model("nope")


def test_times_must_be_aware(st: store.Store) -> None:
    _, user, zone = _setup(st)
    naive = datetime(2022, 8, 1) + timedelta(0)
    with pytest.raises(Exception, match="naive"):
        st.create_feedback(
            zone.id, _report(first_request_seen_at=naive), created_by=user.email, request_hash="h"
        )


def test_cached_reads_see_changes_made_through_another_store(st: store.Store) -> None:
    """Two Store objects on one database (two processes, in effect): reads answered from
    memory still see every change the other one commits."""
    acct, user, zone = _setup(st)
    other = store.Store(st.engine)  # its own cache, as in another process
    assert other.get_settings(zone.id).fight_mode is False
    assert other.authenticate_key("user@example.com", SEED_KEY) == user
    grant = [Grant(frozenset({Permission.ZONE_READ}), account_ids=frozenset({acct.id}))]
    tok, value = st.create_token(user.id, "t", grant)
    found = other.token_and_owner(value)
    assert found is not None
    assert found[0].status == "active"
    st.update_settings(zone.id, {"fight_mode": True})
    st.set_token_status(tok.id, "disabled")
    st.set_zone_plan(zone.id, Plan.PRO)
    assert other.get_settings(zone.id).fight_mode is True
    found = other.token_and_owner(value)
    assert found is not None
    assert found[0].status == "disabled"
    assert other.get_zone(zone.id).plan is Plan.PRO
    st.create_list(acct.id, "office", "ip")
    assert "office" in other.list_values(acct.id)

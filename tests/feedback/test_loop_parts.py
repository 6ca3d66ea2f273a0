"""Labels, review statuses and promotion against a real SQLite store, a real DuckDB
analytics store and a real model registry (the ml tests' small model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from botwarden import store as store_mod
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.events import finish, records_to_arrow
from botwarden.feedback import labels, review
from botwarden.feedback.promotion import ModelControl
from botwarden.ml.dataset import load
from botwarden.ml.features import N_FEATURES
from botwarden.ml.registry import Registry
from botwarden.store import FeedbackInput, FeedbackStatus, FeedbackType, Plan
from tests.ml.conftest import corpus, dataset, small_model  # noqa: F401
from tests.store.helpers import sqlite_url

T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def st(tmp_path: Path) -> Iterator[store_mod.Store]:
    s = store_mod.open(sqlite_url(tmp_path))
    yield s
    s.close()


@pytest.fixture
def zone(st: store_mod.Store) -> str:
    acct = st.create_account("Acme")
    return st.create_zone(acct.id, "shop.example", Plan.ENTERPRISE).id


@pytest.fixture
def backend(zone: str) -> Iterator[DuckDBBackend]:
    b = DuckDBBackend(":memory:")
    b.ensure_schema()
    rows = []
    for i in range(300):
        ua = "curl/8.0" if i % 3 == 0 else "Mozilla/5.0 FreeBSD"
        rows.append({"ts": T0 + timedelta(seconds=i), "client_ip": f"198.51.100.{i % 50}",
                     "zone": zone, "user_agent": ua, "score": 10 if i % 3 else 80,
                     "score_src": "Machine Learning", "model_version": "v1",
                     "features": [float(i % 7)] * N_FEATURES,
                     "js_detection": "passed" if i % 10 == 1 else "missing"})  # fmt: skip
    rows.append({"ts": T0, "client_ip": "203.0.113.9", "zone": zone, "score": 1,
                 "score_src": "Heuristics"})  # no vector: not usable  # fmt: skip
    table = records_to_arrow(rows)
    b.insert(finish(table, spool_id="t", first_seq=1), spool_id="t", last_seq=table.num_rows)
    yield b
    b.close()


def report(st: store_mod.Store, zone: str, kind: FeedbackType, expression: str) -> str:
    r, _ = st.create_feedback(
        zone,
        FeedbackInput(
            type=kind,
            description="d",
            expression=expression,
            first_request_seen_at=T0,
            last_request_seen_at=T0 + timedelta(minutes=5),
            requests=1,
            subtype="scraping" if kind is FeedbackType.FALSE_NEGATIVE else None,
        ),
        created_by="ops@example.com",
        request_hash="x" * 64,
    )
    return r.id


def test_report_labels_are_capped_and_weighted(
    st: store_mod.Store, zone: str, backend: DuckDBBackend
) -> None:
    rid = report(st, zone, FeedbackType.FALSE_POSITIVE, 'http.user_agent contains "FreeBSD"')
    r = st.get_feedback(zone, rid)
    ls = labels.report_labels(backend, r, corpus_rows=1000, max_rows=50, max_share=0.02)
    assert ls.matched == 200
    assert len(ls) == 50
    assert ls.label == labels.HUMAN
    assert not ls.y.any()
    assert ls.weight.sum() == pytest.approx(20.0)  # 2 % of a 1,000-row corpus
    again = labels.report_labels(backend, r, corpus_rows=1000, max_rows=50, max_share=0.02)
    assert np.array_equal(ls.X, again.X)  # the same sample every time


def test_disagreeing_reports_are_flagged_not_merged(
    st: store_mod.Store, zone: str, backend: DuckDBBackend
) -> None:
    fp = report(st, zone, FeedbackType.FALSE_POSITIVE, 'http.user_agent contains "FreeBSD"')
    fn = report(st, zone, FeedbackType.FALSE_NEGATIVE, "cf.bot_management.score lt 30")
    ok = report(st, zone, FeedbackType.FALSE_NEGATIVE, 'http.user_agent contains "curl"')
    for rid in (fp, fn, ok):
        review.accept(st, zone, rid, reviewer="ana@example.com")
    found = labels.collect(backend, st.accepted_feedback(), corpus_rows=10_000)
    assert [(c.a, c.b) for c in found.conflicts] == [(fp, fn)]
    assert set(found.skipped) == {fp, fn}
    assert [s.source for s in found.sets] == [ok]
    assert found.sets[0].y.all()
    view = review.show(st, zone, fp, backend=backend)
    assert view.conflicts
    assert fn in view.conflicts[0]
    assert view.figures is not None
    assert view.figures["requests"] == 200
    assert view.sample


def test_weak_labels_leave_report_slices_out(
    st: store_mod.Store, zone: str, backend: DuckDBBackend
) -> None:
    rid = report(st, zone, FeedbackType.FALSE_POSITIVE, 'http.user_agent contains "FreeBSD"')
    window = (T0, T0 + timedelta(minutes=5))
    excl = [st.get_feedback(zone, rid)]
    # By default only the strong sources: the curl rows that passed JS detection.
    w = labels.weak_labels(backend, *window, zone=zone, exclude=excl)
    assert len(w) == 10
    assert not w.y.any()
    # Asked for, the curl rows the model scored 80 come in too, as confident humans.
    w = labels.weak_labels(backend, *window, zone=zone, exclude=excl,
                           confident_human=labels.CONFIDENT_HUMAN)  # fmt: skip
    assert len(w) == 100
    assert not w.y.any()


def test_labels_file_loads_as_training_data(
    st: store_mod.Store, zone: str, backend: DuckDBBackend, tmp_path: Path
) -> None:
    rid = report(st, zone, FeedbackType.FALSE_NEGATIVE, 'http.user_agent contains "curl"')
    ls = labels.report_labels(backend, st.get_feedback(zone, rid), corpus_rows=100)
    ds = load([labels.write([ls], tmp_path / "labels.parquet")])
    assert len(ds) == 100
    assert ds.y.all()
    assert ds.weight is not None
    assert ds.weight.max() <= 1.0


def test_statuses_and_promotion_through_one_control(
    st: store_mod.Store,
    zone: str,
    tmp_path: Path,
    small_model: Path,  # noqa: F811
) -> None:
    acct = st.get_zone(zone).account_id
    manual = st.create_zone(acct, "manual.example", Plan.ENTERPRISE).id
    st.update_settings(manual, {"auto_update_model": False})
    reg = Registry(tmp_path / "models", base=small_model)
    control = ModelControl(reg, st)
    control.mirror_all()
    rid = report(st, zone, FeedbackType.FALSE_POSITIVE, "cf.bot_management.score lt 30")
    assert review.status(st, reg, zone, rid) == "pending"
    review.reject(st, zone, rid, reviewer="ana@example.com", note="not people")
    assert review.status(st, reg, zone, rid) == "rejected"
    review.relabel(st, zone, rid, type=FeedbackType.FALSE_NEGATIVE, subtype="Scraping",
                   reviewer="ana@example.com")  # fmt: skip
    r = st.get_feedback(zone, rid)
    assert (r.type, r.subtype, r.status) == (
        FeedbackType.FALSE_NEGATIVE, "scraping", FeedbackStatus.ACCEPTED)  # fmt: skip
    assert review.status(st, reg, zone, rid) == "accepted"
    v2 = reg.add(small_model, description="candidate")
    control.mirror(v2)
    st.set_feedback_trained(v2, {rid: 12})
    assert review.status(st, reg, zone, rid) == "in training"
    assert st.get_model(v2).state == "candidate"

    control.promote(v2)
    assert review.status(st, reg, zone, rid) == f"in model {v2}"
    assert reg.resolve(zone) == v2  # auto-update: follows
    assert reg.resolve(manual) == "v1"  # auto-update off: stays where it was
    assert st.get_settings(manual).model_pin == "v1"
    assert st.latest_model() is not None
    assert st.latest_model().version == v2  # type: ignore[union-attr]
    assert st.get_model("v1").state == "retired"

    assert control.rollback() == "v1"
    assert reg.resolve(zone) == "v1"
    assert st.latest_model().version == "v1"  # type: ignore[union-attr]

    control.pin(zone, v2)
    assert reg.resolve(zone) == v2
    assert st.get_settings(zone).model_pin == v2
    control.set_auto_update(zone, True)
    assert reg.resolve(zone) == "v1"
    assert st.get_settings(zone).model_pin is None


def test_corpus_rows_a_report_contradicts() -> None:
    cols = labels.fingerprint_columns()
    assert cols  # the client-software features, found by name
    a, b = np.zeros(N_FEATURES, np.float32), np.zeros(N_FEATURES, np.float32)
    a[cols[0]], b[cols[0]] = 1.0, 2.0
    # Software A: the old corpus calls it a bot every time (a mislabel). Software B: a
    # browser most of whose corpus rows are people, with a few bots borrowing it.
    X = np.stack([a] * 10 + [b] * 8 + [b] * 2)
    y = np.array([1] * 10 + [0] * 8 + [1] * 2, dtype=np.int8)
    other = next(i for i in range(N_FEATURES) if i not in cols)
    X[:, other] = np.arange(20)  # behaviour and site features differ from row to row
    fp = labels.LabelSet("r1", labels.HUMAN, "", np.stack([a, b]), np.zeros(2, np.int8),
                         np.zeros(2, np.int64), np.ones(2, np.float32), matched=2)  # fmt: skip
    drop = labels.contradicted(X, y, [fp])
    assert drop.tolist() == [True] * 10 + [False] * 10
    fn = labels.LabelSet("r2", labels.BOT, "scraping", np.stack([b]), np.ones(1, np.int8),
                         np.zeros(1, np.int64), np.ones(1, np.float32), matched=1)  # fmt: skip
    # A false negative never drops the corpus' people: bots borrow browsers' software.
    assert not labels.contradicted(X, y, [fn]).any()


def _set(label: str, n: int) -> labels.LabelSet:
    y = np.full(n, 1 if label == labels.BOT else 0, np.int8)
    return labels.LabelSet("r", label, "", np.zeros((n, N_FEATURES), np.float32), y,
                           np.zeros(n, np.int64), np.ones(n, np.float32), matched=n)  # fmt: skip


def test_weak_labels_keep_the_site_balanced() -> None:
    from botwarden.feedback.loop import balance

    y = np.array([1] * 100 + [0] * 10_000, dtype=np.int8)  # verified bots, confident people
    # A false negative of 900 bots: 1,000 live bots want 3,000 live people at a 25 % share.
    w = balance(y, [_set(labels.BOT, 900)], 0.25, cap=1e9)
    assert w[:100].tolist() == [1.0] * 100
    assert float(w[100:].sum()) == pytest.approx(3000.0)
    # A false positive of 900 people: 100 bots want only 300 people; the report has more.
    w = balance(y, [_set(labels.HUMAN, 900)], 0.25, cap=1e9)
    assert float(w[100:].sum()) == 0.0
    # Together never more than the cap.
    assert float(balance(y, [_set(labels.BOT, 900)], 0.25, cap=500).sum()) == pytest.approx(500)

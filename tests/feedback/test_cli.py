"""`botwarden feedback list|show|accept|reject|relabel` and `botwarden model retrain`
against a real SQLite store file, a real DuckDB analytics file and a real model
registry (the ml tests' small model and corpora)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botwarden import store as store_mod
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.analytics.events import finish, records_to_arrow
from botwarden.feedback.cli import feedback_app
from botwarden.ml import cli as ml_cli
from botwarden.ml.features import N_FEATURES
from botwarden.ml.registry import Registry
from botwarden.store import FeedbackType, Plan
from tests.feedback.test_loop_parts import T0, report
from tests.ml.conftest import corpus, dataset, holdout, small_model  # noqa: F401


class Site:
    def __init__(self, root: Path) -> None:
        self.db = f"sqlite:///{root / 'botwarden.db'}"
        self.analytics = f"duckdb:///{root / 'analytics.duckdb'}"
        self.data_dir = root / "data"
        self.st = store_mod.open(self.db)
        acct = self.st.create_account("Acme")
        self.zone = self.st.create_zone(acct.id, "shop.example", Plan.ENTERPRISE).id
        b = DuckDBBackend(str(root / "analytics.duckdb"))
        b.ensure_schema()
        rows = []
        for i in range(300):
            ua = "curl/8.0" if i % 3 == 0 else "Mozilla/5.0 FreeBSD"
            rows.append({"ts": T0 + timedelta(seconds=i), "client_ip": f"198.51.100.{i % 50}",
                         "zone": self.zone, "user_agent": ua, "score": 10 if i % 3 else 80,
                         "score_src": "Machine Learning", "model_version": "v1",
                         "features": [float(i % 7)] * N_FEATURES})  # fmt: skip
        table = records_to_arrow(rows)
        b.insert(finish(table, spool_id="t", first_seq=1), spool_id="t", last_seq=table.num_rows)
        b.close()

    def feedback(self, *args: str) -> tuple[int, str]:
        res = CliRunner().invoke(
            feedback_app, [*args, "--database", self.db], catch_exceptions=False
        )
        return res.exit_code, res.output


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.st.close()


def test_list_show_accept_reject_relabel(site: Site) -> None:
    fp = report(site.st, site.zone, FeedbackType.FALSE_POSITIVE, 'http.user_agent contains "BSD"')
    fn = report(site.st, site.zone, FeedbackType.FALSE_NEGATIVE, 'http.user_agent eq "curl/8.0"')
    code, out = site.feedback("list", "shop.example")
    assert code == 0, out
    assert out.count("pending") == 2
    assert "2 of 2 report(s)" in out

    code, out = site.feedback("show", site.zone, fp, "--analytics", site.analytics)
    assert code == 0, out
    doc = json.loads(out)
    assert (doc["id"], doc["status"]) == (fp, "pending")
    assert doc["matching_traffic"]["requests"] == 200
    assert len(doc["sample"]) == 20
    assert doc["conflicts"] == []

    code, out = site.feedback("accept", site.zone, fp, "--reviewer", "ana@example.com",
                              "--note", "checked the sample")  # fmt: skip
    assert code == 0, out
    assert site.st.get_feedback(site.zone, fp).note == "checked the sample"
    code, out = site.feedback("reject", site.zone, fn, "--reviewer", "ana@example.com")
    assert code == 0, out
    code, out = site.feedback("list", site.zone, "--status", "rejected")
    assert fn in out
    assert fp not in out

    code, out = site.feedback("relabel", site.zone, fn, "--type", "false_negative",
                              "--subtype", "knitting", "--reviewer", "ana@example.com")  # fmt: skip
    assert code == 2
    assert "unknown subtype 'knitting'" in out
    code, out = site.feedback("relabel", site.zone, fn, "--type", "false_negative",
                              "--subtype", "Token Cracking", "--reviewer", "ana@example.com")  # fmt: skip
    assert code == 0, out
    r = site.st.get_feedback(site.zone, fn)
    assert (r.subtype, r.status.value) == ("token_cracking", "accepted")

    code, out = site.feedback("show", site.zone, "0" * 32)
    assert code == 2
    assert "not found" in out
    code, out = site.feedback("list", "nowhere.example")
    assert code == 2
    assert "no zone 'nowhere.example'" in out


def test_model_retrain(
    site: Site,
    corpus: Path,  # noqa: F811
    holdout: Path,  # noqa: F811
    small_model: Path,  # noqa: F811
) -> None:
    Registry(site.data_dir / "models", base=small_model)
    common = {"base": [corpus], "holdout": [holdout], "analytics": site.analytics,
              "database": site.db, "data_dir": site.data_dir, "rounds": 10}  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    assert ml_cli.retrain_command(**common, stdout=out, stderr=err) == 2  # type: ignore[arg-type]
    assert "no accepted feedback reports to train on" in err.getvalue()

    rid = report(site.st, site.zone, FeedbackType.FALSE_NEGATIVE, 'http.user_agent eq "curl/8.0"')
    site.st.review_feedback(site.zone, rid, status=store_mod.FeedbackStatus.ACCEPTED,
                            reviewer="ana@example.com")  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    code = ml_cli.retrain_command(**common, stdout=out, stderr=err)  # type: ignore[arg-type]
    text = out.getvalue()
    assert code in (0, 1), err.getvalue()
    assert text.startswith("v2 (candidate, parent v1) from 1 report(s)")
    assert f"report {rid} (bot): score < 30" in text
    assert "hold-out: human FP" in text
    assert code == (0 if " FAIL" not in text else 1)
    reg = Registry(site.data_dir / "models")
    assert reg.active == "v1"  # --promote none: the operator decides
    meta = reg.info("v2").meta
    assert meta["feedback_reports"] == [rid]
    assert meta["parent"] == "v1"
    assert meta["gates"]["slices"][0]["requests"] == 100
    r = site.st.get_feedback(site.zone, rid)
    assert (r.status.value, r.model_version, r.labelled_rows) == ("labelled", "v2", 100)
    assert site.st.get_model("v2").state == "candidate"

"""Analytics settings: every problem reported at once, environment variables, the writer
and backend they build."""

from __future__ import annotations

from pathlib import Path

import pytest

from botwarden.analytics.config import AnalyticsSettings
from botwarden.analytics.duckdb import DuckDBBackend
from botwarden.errors import ConfigError


def test_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        AnalyticsSettings(retention_days=0, flush_interval=0, ip_mode="mask", batch_size=0).check()
    text = str(exc.value)
    for word in ("retention_days", "flush_interval", "ip_mode", "batch_size"):
        assert word in text


def test_hash_mode_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key of at least 16 bytes"):
        AnalyticsSettings(ip_mode="hash").check()
    key = tmp_path / "key"
    key.write_text("s3cret-s3cret-s3cret\n")
    settings = AnalyticsSettings(ip_mode="hash", hash_key_file=str(key)).check()
    assert settings.privacy().key == b"s3cret-s3cret-s3cret"
    with pytest.raises(ConfigError, match="no such file"):
        AnalyticsSettings(ip_mode="hash", hash_key_file=str(tmp_path / "nope")).check()


def test_from_environment(tmp_path: Path) -> None:
    env = {
        "BOTWARDEN_ANALYTICS_BACKEND": str(tmp_path / "a.duckdb"),
        "BOTWARDEN_ANALYTICS_RETENTION_DAYS": "7",
        "BOTWARDEN_ANALYTICS_IP_MODE": "truncate",
        "BOTWARDEN_ANALYTICS_FSYNC": "false",
        "BOTWARDEN_ANALYTICS_FLUSH_INTERVAL": "0.5",
    }
    s = AnalyticsSettings.from_env(env)
    assert (s.retention_days, s.ip_mode, s.fsync, s.flush_interval) == (7, "truncate", False, 0.5)
    backend = s.open_backend()
    assert isinstance(backend, DuckDBBackend)
    assert backend.retention_days == 7
    backend.close()
    assert (
        AnalyticsSettings.from_env({"BOTWARDEN_ANALYTICS_RETENTION_DAYS": ""}).retention_days
        is None
    )
    with pytest.raises(ConfigError, match="not a int"):
        AnalyticsSettings.from_env({"BOTWARDEN_ANALYTICS_BATCH_SIZE": "many"})


def test_from_mapping_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        AnalyticsSettings.from_mapping({"retention": 3})
    assert AnalyticsSettings.from_mapping({"retention_days": 3}).retention_days == 3


def test_defaults_live_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWARDEN_DATA_DIR", str(tmp_path))
    s = AnalyticsSettings()
    assert s.backend_url() == str(tmp_path / "analytics.duckdb")
    w = s.writer(None)
    assert w.spool.directory == tmp_path / "spool"
    assert w.privacy.ip_mode == "full"

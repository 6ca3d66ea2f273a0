"""Analytics settings: where events go, how long they stay, what of the client is kept.

Read from a mapping (the `analytics:` section of the configuration file) or from
`BOTWARDEN_ANALYTICS_*` environment variables; `check()` reports every problem at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botwarden.analytics.privacy import IP_MODES, IPMode, Privacy
from botwarden.errors import ConfigError

if TYPE_CHECKING:
    from botwarden.analytics.base import Backend
    from botwarden.analytics.writer import Writer

ENV_PREFIX = "BOTWARDEN_ANALYTICS_"


def default_data_dir() -> Path:
    return Path(os.environ.get("BOTWARDEN_DATA_DIR", "data"))


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    backend: str = ""
    """Backend URL (`base.open_backend`); empty: `<data dir>/analytics.duckdb`."""
    spool_dir: str = ""
    """Disk spool; empty: `<data dir>/spool`."""
    retention_days: int | None = 30
    """Events older than this are deleted (ClickHouse: TTL); None keeps them forever."""
    batch_size: int = 50_000
    flush_interval: float = 1.0
    queue_capacity: int = 1_000_000
    spool_max_bytes: int = 1 << 30
    fsync: bool = True
    ip_mode: str = "full"
    """"full", "truncate" (to ipv4_prefix / ipv6_prefix) or "hash" (keyed pseudonym)."""
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    hash_key: str = ""
    """Key for "hash" mode and session ids (at least 16 characters); prefer hash_key_file."""
    hash_key_file: str = ""
    signals_interval: float = 60.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AnalyticsSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"analytics: unknown setting(s) {', '.join(unknown)}")
        return cls(**values).check()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnalyticsSettings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems = []
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            kind = str(f.type)
            try:
                if raw == "" and "None" in kind:
                    values[f.name] = None
                elif kind.startswith("int"):
                    values[f.name] = int(raw)
                elif kind == "float":
                    values[f.name] = float(raw)
                elif kind == "bool":
                    values[f.name] = raw.lower() in ("1", "true", "yes", "on")
                else:
                    values[f.name] = raw
            except ValueError:
                problems.append(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a {kind}")
        if problems:
            raise ConfigError("analytics: " + "; ".join(problems))
        return cls(**values).check()

    def validate(self) -> list[str]:
        problems = []
        if self.retention_days is not None and self.retention_days < 1:
            problems.append("retention_days must be at least 1 (or empty to keep everything)")
        if self.batch_size < 1:
            problems.append("batch_size must be positive")
        if not 0 < self.flush_interval <= 60:
            problems.append("flush_interval must be in (0, 60] seconds")
        if self.queue_capacity < self.batch_size:
            problems.append("queue_capacity must be at least batch_size")
        if self.spool_max_bytes < 1 << 20:
            problems.append("spool_max_bytes must be at least 1 MiB")
        if self.signals_interval <= 0:
            problems.append("signals_interval must be positive")
        if self.ip_mode not in IP_MODES:
            problems.append(f"ip_mode must be one of {', '.join(IP_MODES)}, not {self.ip_mode!r}")
        if self.hash_key and self.hash_key_file:
            problems.append("give hash_key or hash_key_file, not both")
        if self.hash_key_file and not Path(self.hash_key_file).is_file():
            problems.append(f"hash_key_file {self.hash_key_file}: no such file")
        else:
            privacy = Privacy(
                ip_mode=cast(IPMode, self.ip_mode if self.ip_mode in IP_MODES else "full"),
                ipv4_prefix=self.ipv4_prefix,
                ipv6_prefix=self.ipv6_prefix,
                key=self._key(),
            )
            problems += privacy.validate()
        return problems

    def check(self) -> AnalyticsSettings:
        problems = self.validate()
        if problems:
            raise ConfigError("analytics settings:\n  - " + "\n  - ".join(problems))
        return self

    def _key(self) -> bytes:
        if self.hash_key_file:
            return Path(self.hash_key_file).read_bytes().strip()
        return self.hash_key.encode()

    def privacy(self) -> Privacy:
        return Privacy(
            ip_mode=cast(IPMode, self.ip_mode),
            ipv4_prefix=self.ipv4_prefix,
            ipv6_prefix=self.ipv6_prefix,
            key=self._key(),
        ).check()

    def backend_url(self) -> str:
        return self.backend or str(default_data_dir() / "analytics.duckdb")

    def open_backend(self) -> Backend:
        from botwarden.analytics.base import open_backend

        return open_backend(self.backend_url(), retention_days=self.retention_days)

    def writer(self, backend: Backend | None) -> Writer:
        """A writer with these settings (not started)."""
        from botwarden.analytics.writer import Writer

        return Writer(
            backend,
            self.spool_dir or default_data_dir() / "spool",
            batch_size=self.batch_size,
            flush_interval=self.flush_interval,
            queue_capacity=self.queue_capacity,
            spool_max_bytes=self.spool_max_bytes,
            fsync=self.fsync,
            privacy=self.privacy(),
        )

"""ASN and country of an address, from MMDB files the operator supplies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb

from botwarden.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GeoFacts:
    asn: int | None = None
    as_org: str | None = None
    country: str | None = None
    continent: str | None = None


class GeoIP:
    """Reads MaxMind-format databases: an ASN database, a country/city database, or one
    database that has both (as ipinfo and DB-IP "lite" files do)."""

    def __init__(self, *paths: str | Path, cache_size: int = 65536) -> None:
        self._readers: list[maxminddb.Reader] = []
        for p in paths:
            try:
                self._readers.append(maxminddb.open_database(str(p)))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                raise ConfigError(f"cannot read MMDB file {p}: {exc}") from exc
        self.lookup = lru_cache(maxsize=cache_size)(self._lookup)

    def _lookup(self, ip: str) -> GeoFacts:
        asn: int | None = None
        org: str | None = None
        country: str | None = None
        continent: str | None = None
        for reader in self._readers:
            try:
                rec: Any = reader.get(ip)
            except ValueError:
                return GeoFacts()
            if not isinstance(rec, dict):
                continue
            if asn is None and isinstance(rec.get("autonomous_system_number"), int):
                asn = rec["autonomous_system_number"]
                org = rec.get("autonomous_system_organization")
            if asn is None and isinstance(rec.get("asn"), str | int):  # ipinfo layout: "AS15169"
                raw = str(rec["asn"]).upper().removeprefix("AS")
                asn = int(raw) if raw.isdigit() else None
                org = rec.get("as_name") or rec.get("name")
            c = rec.get("country")
            if country is None and isinstance(c, dict):
                country = c.get("iso_code")
            elif country is None and isinstance(c, str):
                country = c
            if country is None and isinstance(rec.get("country_code"), str):
                country = rec["country_code"]
            k = rec.get("continent")
            if continent is None and isinstance(k, dict):
                continent = k.get("code")
            elif continent is None and isinstance(rec.get("continent_code"), str):
                continent = rec["continent_code"]
        return GeoFacts(asn=asn, as_org=org, country=country, continent=continent)

    def close(self) -> None:
        for r in self._readers:
            r.close()

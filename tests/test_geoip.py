from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from botwarden.errors import ConfigError
from botwarden.geoip import GeoIP
from botwarden.request import RequestContext


def write_db(path: Path) -> None:
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN-Country", ipv4_compatible=True)
    w.insert_network(
        IPSet(["132.0.0.0/8"]),
        {
            "autonomous_system_number": 132892,
            "autonomous_system_organization": "Example AS",
            "country": {"iso_code": "AU"},
            "continent": {"code": "OC"},
        },
    )
    w.insert_network(IPSet(["2001:db8::/32"]), {"asn": "AS64500", "country_code": "DE"})
    w.to_db_file(str(path))


def test_lookup_from_mmdb(tmp_path: Path) -> None:
    db = tmp_path / "geo.mmdb"
    write_db(db)
    geo = GeoIP(db)
    ctx = RequestContext(client_ip="132.1.2.3", geoip=geo)
    assert (ctx.asn, ctx.country, ctx.geo.continent) == (132892, "AU", "OC")
    v6 = RequestContext(client_ip="2001:db8::5", geoip=geo).geo
    assert (v6.asn, v6.country) == (64500, "DE")
    assert RequestContext(client_ip="8.8.8.8", geoip=geo).asn is None
    assert RequestContext(client_ip="8.8.8.8").asn is None


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(ConfigError, match="cannot read MMDB"):
        GeoIP(bad)

"""ASN categories for the network features: hosting, mobile, corporate egress, or other.

The shipped table lists the large cloud and hosting networks that most automated traffic
comes from, the mobile carriers whose carrier-grade NAT puts many people behind one
address, and the security proxies that carry whole companies' browsing. Any other known
ASN counts as "eyeball" (residential or business access); an unknown one (no MMDB
configured, or an address it does not cover) is its own category, so the model learns to
work without ASN data. Operators extend or override the table with a JSON file
(`{"hosting": [ASN, ...], "mobile": [...], "corporate": [...]}`) named by
`$BOTWARDEN_ASN_CATEGORIES`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

UNKNOWN, EYEBALL, MOBILE, HOSTING, CORPORATE = 0, 1, 2, 3, 4
NAMES = {UNKNOWN: "unknown", EYEBALL: "eyeball", MOBILE: "mobile", HOSTING: "hosting",
         CORPORATE: "corporate"}  # fmt: skip
ENV = "BOTWARDEN_ASN_CATEGORIES"

HOSTING_ASNS: frozenset[int] = frozenset({
    16509, 14618, 8987,  # Amazon AWS
    396982, 15169, 19527, 36040, 139070,  # Google Cloud and Google
    8075, 8068, 8069,  # Microsoft Azure
    14061,  # DigitalOcean
    16276,  # OVH
    24940, 213230,  # Hetzner
    63949,  # Akamai Linode
    20473,  # Vultr (Choopa)
    51167,  # Contabo
    45102, 37963,  # Alibaba Cloud
    132203, 45090,  # Tencent Cloud
    31898,  # Oracle Cloud
    12876,  # Scaleway
    60781, 28753, 16265,  # Leaseweb
    9009,  # M247
    36352,  # ColoCrossing
    53667,  # FranTech / BuyVM
    46606,  # Unified Layer
    26496,  # GoDaddy
    8560,  # IONOS
    197540,  # netcup
    62567,  # DigitalOcean (Asia)
    135377,  # UCloud
    55286,  # B2 Net / ServerMania
    40021,  # Contabo US
    212238,  # Datacamp (CDN77)
    29802,  # HIVELOCITY
    32613,  # iWeb
    35916,  # MULTACOM
    62904,  # Eonix
    398101,  # GoDaddy cloud
    394711,  # Limenet
    21859,  # Zenlayer
})  # fmt: skip

MOBILE_ASNS: frozenset[int] = frozenset({
    21928,  # T-Mobile US
    22394, 6167,  # Verizon Wireless
    20057,  # AT&T Mobility
    12576,  # EE
    3209,  # Vodafone DE
    25135,  # Vodafone UK
    15557,  # SFR
    51207,  # Free Mobile
    12430,  # Vodafone ES
    3329,  # Vodafone GR
    26615,  # TIM Brasil
    45609,  # Bharti Airtel mobile
    55836,  # Reliance Jio
    24560,  # Airtel broadband / mobile
    9498,  # Bharti
    132199,  # Globe Telecom
    17676,  # SoftBank
    2516,  # KDDI
    9605,  # NTT Docomo
})  # fmt: skip

CORPORATE_ASNS: frozenset[int] = frozenset({
    53813, 62044,  # Zscaler
    55256,  # Netskope
    22616,  # Forcepoint
})  # fmt: skip


class AsnCategories:
    """ASN → category. `categorize(None)` is UNKNOWN; an unlisted ASN is EYEBALL."""

    def __init__(self, extra: Path | None = None) -> None:
        self.table: dict[int, int] = {}
        for asns, cat in ((CORPORATE_ASNS, CORPORATE), (MOBILE_ASNS, MOBILE),
                          (HOSTING_ASNS, HOSTING)):  # fmt: skip
            self.table.update(dict.fromkeys(asns, cat))
        path = extra if extra is not None else _env_path()
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        from botwarden.errors import ConfigError

        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read ASN categories: {exc}") from exc
        by_name = {"hosting": HOSTING, "mobile": MOBILE, "corporate": CORPORATE,
                   "eyeball": EYEBALL}  # fmt: skip
        problems = []
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected an object of category → list of ASNs")
        for name, asns in doc.items():
            if name not in by_name:
                problems.append(f"unknown category {name!r} (one of {sorted(by_name)})")
                continue
            if not isinstance(asns, list) or not all(isinstance(a, int) for a in asns):
                problems.append(f"{name}: expected a list of integer ASNs")
                continue
            self.table.update(dict.fromkeys(asns, by_name[name]))
        if problems:
            raise ConfigError(f"{path}: " + "; ".join(problems))

    def categorize(self, asn: int | None) -> int:
        if not asn:
            return UNKNOWN
        return self.table.get(asn, EYEBALL)


def _env_path() -> Path | None:
    raw = os.environ.get(ENV)
    return Path(raw) if raw else None

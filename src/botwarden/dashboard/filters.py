"""Bot Analytics filters: the query string of the page (time range, score range or
grouping, attributes, a free expression) parsed, checked field by field, and turned into
one rules-language expression — what the API's analytics endpoints and the feedback
report take.

    f = Filters.parse(request.query_params, plan, now)
    f.problems          # {"asn": "…not an AS number…"}: shown beside the field
    f.expression()      # 'cf.bot_management.score le 29 and ip.src.asnum eq 64500'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from botwarden.store import Plan

RANGES: dict[str, timedelta] = {
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "72h": timedelta(hours=72),
}
RANGE_LABELS = {"30m": "Last 30 minutes", "1h": "Last hour", "6h": "Last 6 hours",
                "24h": "Last 24 hours", "72h": "Last 72 hours"}  # fmt: skip
DEFAULT_RANGE = "24h"
CUSTOM = "custom"
"""The range select's value for From/To (which win over a preset in any case)."""
MAX_SPAN = timedelta(hours=72)
MAX_BACK = timedelta(days=30)

GROUPINGS: dict[str, tuple[str, str]] = {
    # grouping → (label, expression), as the seed defines them
    "automated": ("Automated (1)",
                  "cf.bot_management.score eq 1 and not cf.bot_management.verified_bot"),
    "likely_automated": ("Likely automated (2–29)",
                         "cf.bot_management.score ge 2 and cf.bot_management.score le 29"),
    "likely_human": ("Likely human (30–99)", "cf.bot_management.score ge 30"),
}  # fmt: skip

# Attribute filters: query key → (label, field, kind).
ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "ua": ("User agent", "http.user_agent", "text"),
    "ip": ("IP address or CIDR", "ip.src", "ip"),
    "asn": ("ASN", "ip.src.asnum", "asn"),
    "country": ("Country", "ip.src.country", "country"),
    "ja3": ("JA3", "cf.bot_management.ja3_hash", "ja3"),
    "ja4": ("JA4", "cf.bot_management.ja4", "text"),
    "host": ("Host", "http.host", "text"),
    "path": ("Path", "http.request.uri.path", "text"),
    "detection": ("Detection id", "cf.bot_management.detection_ids", "detection"),
}
KEYS = ("range", "since", "until", "score_min", "score_max", "grouping", *ATTRIBUTES,
        "verified", "expr")  # fmt: skip
_JA3 = re.compile(r"^[0-9a-f]{32}$")
_COUNTRY = re.compile(r"^[A-Z0-9]{2}$")
MAX_TEXT = 1024


def quote(text: str) -> str:
    """A rules-language string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_time(text: str, name: str, problems: dict[str, str]) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        problems[name] = f"{text!r} is not a time; use YYYY-MM-DDTHH:MM (UTC)"
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _score(text: str, name: str, problems: dict[str, str]) -> int | None:
    if not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 99:
        problems[name] = f"{text!r} is not a bot score; use a whole number from 1 to 99"
        return None
    return value


@dataclass
class Filters:
    values: dict[str, str]
    """The query string as given (known keys only, stripped), for the form and links."""
    plan: Plan
    since: datetime
    until: datetime
    score_min: int | None = None
    score_max: int | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: Mapping[str, str], plan: Plan, now: datetime | None = None) -> Filters:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        values = {k: params[k].strip() for k in KEYS if params.get(k, "").strip()}
        problems: dict[str, str] = {}
        for k, v in values.items():
            if len(v) > MAX_TEXT and k != "expr":
                problems[k] = f"too long ({len(v)} characters; at most {MAX_TEXT})"
        if len(values.get("expr", "")) > 4096:
            problems["expr"] = "too long (at most 4096 characters)"
        # Time: a preset range, or since/until (both, UTC).
        since = until = None
        if "since" in values or "until" in values:
            if "since" in values:
                since = _parse_time(values["since"], "since", problems)
            until = _parse_time(values["until"], "until", problems) if "until" in values else now
            if "since" not in values and "since" not in problems:
                problems["since"] = "give a start as well as an end, or pick a range"
        rng = values.get("range", DEFAULT_RANGE)
        if rng == CUSTOM:
            if since is None and "since" not in problems:
                problems["since"] = "give a start (and an end, or it is now) for a custom range"
            rng = DEFAULT_RANGE
        elif rng not in RANGES:
            problems["range"] = (
                f"{rng!r} is not a range; use one of {', '.join(RANGES)} or {CUSTOM}"
            )
            rng = DEFAULT_RANGE
        if since is None or until is None:
            until = until or now
            since = until - RANGES[rng]
        if since >= until:
            problems.setdefault("since", "the start must be before the end")
        elif until - since > MAX_SPAN:
            problems.setdefault("since", "one view shows at most 72 hours; narrow the range")
        if since < now - MAX_BACK:
            problems.setdefault("since", "analytics go back 30 days; pick a later start")
        if until > now + timedelta(minutes=1):
            problems.setdefault("until", "the end is in the future")
        f = cls(values, plan, since, until, problems=problems)
        f.score_min = _score(values.get("score_min", ""), "score_min", problems)
        f.score_max = _score(values.get("score_max", ""), "score_max", problems)
        if f.score_min and f.score_max and f.score_min > f.score_max:
            problems["score_max"] = "the highest score must not be below the lowest"
        if (f.score_min or f.score_max) and plan is not Plan.ENTERPRISE:
            problems["score_min"] = (
                f"granular bot scores are shown on the enterprise plan only; this zone is on "
                f"the {plan.value} plan: filter by bot grouping"
            )
        g = values.get("grouping")
        if g is not None and g not in GROUPINGS:
            problems["grouping"] = f"{g!r} is not a grouping; use one of {', '.join(GROUPINGS)}"
        verified = values.get("verified")
        if verified is not None and verified not in ("yes", "no"):
            problems["verified"] = "use yes or no (or leave it out)"
        for key, (_, _, kind) in ATTRIBUTES.items():
            if key in values and key not in problems:
                problem = _check(kind, values[key])
                if problem:
                    problems[key] = problem
        return f

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def has_score_filter(self) -> bool:
        """A bot score (or grouping) filter is set: "Report incorrect data" is offered."""
        return bool(self.score_min or self.score_max or self.values.get("grouping"))

    def parts(self) -> list[str]:
        out: list[str] = []
        # A score range is within 1..99, as Bot Analytics shows scores: an open end is
        # closed at 1 or 99, so unscored requests (score 0) never match a score filter.
        score = "cf.bot_management.score"
        if self.score_min or self.score_max:
            low, high = self.score_min or 1, self.score_max or 99
            if low == high:
                out.append(f"{score} eq {low}")
            else:
                out.append(f"{score} ge {low} and {score} le {high}")
        g = self.values.get("grouping")
        if g in GROUPINGS:
            out.append(GROUPINGS[g][1])
        for key, (_, fld, kind) in ATTRIBUTES.items():
            value = self.values.get(key)
            if value is None or key in self.problems:
                continue
            out.append(_clause(kind, fld, value))
        if self.values.get("verified") == "yes":
            out.append("cf.bot_management.verified_bot")
        elif self.values.get("verified") == "no":
            out.append("not cf.bot_management.verified_bot")
        expr = self.values.get("expr")
        if expr:
            out.append(f"({expr})")
        return out

    def expression(self) -> str | None:
        parts = self.parts()
        return " and ".join(parts) if parts else None

    def query(self, **changes: str | None) -> str:
        """The query string with some keys changed (None removes one)."""
        values = dict(self.values)
        for k, v in changes.items():
            if v is None:
                values.pop(k, None)
            else:
                values[k] = v
        return urlencode(values)

    def window_query(self) -> str:
        """The query string pinned to this view's exact window (for the report)."""
        return self.query(
            range=None,
            since=self.since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            until=self.until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def _check(kind: str, value: str) -> str | None:
    if kind == "ip":
        try:
            if "/" in value:
                ipaddress.ip_network(value, strict=False)
            else:
                ipaddress.ip_address(value)
        except ValueError:
            return f"{value!r} is not an IP address or a CIDR range (such as 203.0.113.0/24)"
    elif kind == "asn":
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit() or int(digits) > 4294967295:
            return f"{value!r} is not an AS number (such as 13335 or AS13335)"
    elif kind == "country":
        if not _COUNTRY.fullmatch(value.upper()):
            return f"{value!r} is not a two-letter country code (such as NL)"
    elif kind == "ja3":
        if not _JA3.fullmatch(value.lower()):
            return f"{value!r} is not a JA3 hash (32 hexadecimal digits)"
    elif kind == "detection" and (not value.isdigit() or int(value) > 2**63 - 1):
        return f"{value!r} is not a detection id (a whole number)"
    return None


def _clause(kind: str, fld: str, value: str) -> str:
    if kind == "ip":
        if "/" in value:
            return f"{fld} in {{{ipaddress.ip_network(value, strict=False)}}}"
        return f"{fld} eq {ipaddress.ip_address(value)}"
    if kind == "asn":
        return f"{fld} eq {int(value.upper().removeprefix('AS'))}"
    if kind == "country":
        return f"{fld} eq {quote(value.upper())}"
    if kind == "ja3":
        return f"{fld} eq {quote(value.lower())}"
    if kind == "detection":
        return f"any({fld}[*] eq {int(value)})"
    return f"{fld} eq {quote(value)}"

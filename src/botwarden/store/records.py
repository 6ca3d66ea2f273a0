"""Plain, immutable records the store hands out, and the vocabularies they use (plans,
permissions, feedback types and statuses). Nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from botwarden.errors import BotwardenError


class NotFound(BotwardenError):
    """The object asked for does not exist (or is not visible to the caller)."""


class Conflict(BotwardenError):
    """The change clashes with what is stored (a duplicate name, a reused key, …)."""


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"

    @property
    def rank(self) -> int:
        return _PLAN_RANK[self]

    def at_least(self, other: Plan) -> bool:
        return self.rank >= other.rank


_PLAN_RANK = {Plan.FREE: 0, Plan.PRO: 1, Plan.BUSINESS: 2, Plan.ENTERPRISE: 3}


class Permission(StrEnum):
    """Permission groups an API token can hold, each scoped to an account or to zones."""

    ZONE_READ = "zone_read"
    BOT_MANAGEMENT_READ = "bot_management_read"
    BOT_MANAGEMENT_EDIT = "bot_management_edit"
    BOT_ANALYTICS_READ = "bot_analytics_read"
    FIREWALL_EDIT = "firewall_edit"
    BOT_FEEDBACK_WRITE = "bot_feedback_write"

    @property
    def label(self) -> str:
        return PERMISSION_TITLES[self]


PERMISSION_TITLES: dict[Permission, str] = {
    Permission.ZONE_READ: "Zone Read",
    Permission.BOT_MANAGEMENT_READ: "Bot Management Read",
    Permission.BOT_MANAGEMENT_EDIT: "Bot Management Edit",
    Permission.BOT_ANALYTICS_READ: "Bot Analytics Read",
    Permission.FIREWALL_EDIT: "Firewall Edit",
    Permission.BOT_FEEDBACK_WRITE: "Bot Feedback Write",
}
# A permission that implies others (edit implies read).
IMPLIES: dict[Permission, frozenset[Permission]] = {
    Permission.BOT_MANAGEMENT_EDIT: frozenset({Permission.BOT_MANAGEMENT_READ}),
}


def parse_permission(text: str) -> Permission:
    """A permission by key (`bot_management_read`) or title (`Bot Management Read`)."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return Permission(key)
    except ValueError:
        known = ", ".join(p.value for p in Permission)
        raise ValueError(f"unknown permission {text!r}; use one of {known}") from None


class FeedbackType(StrEnum):
    FALSE_POSITIVE = "false_positive"
    FALSE_NEGATIVE = "false_negative"


class FeedbackStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    # Set by the feedback loop once a report's traffic has become training labels; such a
    # report can no longer be re-reviewed.
    LABELLED = "labelled"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created_on: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    is_admin: bool
    created_on: datetime
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Grant:
    """Permissions over every zone of some accounts and/or over listed zones."""

    permissions: frozenset[Permission]
    account_ids: frozenset[str] = frozenset()
    zone_ids: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "permissions": sorted(self.permissions),
            "accounts": sorted(self.account_ids),
            "zones": sorted(self.zone_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grant:
        return cls(
            frozenset(Permission(p) for p in data.get("permissions", ())),
            frozenset(data.get("accounts", ())),
            frozenset(data.get("zones", ())),
        )


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    user_id: str
    name: str
    status: str  # active | disabled
    grants: tuple[Grant, ...]
    issued_on: datetime
    modified_on: datetime
    not_before: datetime | None = None
    expires_on: datetime | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    account_id: str
    account_name: str
    name: str
    plan: Plan
    status: str
    created_on: datetime
    modified_on: datetime


@dataclass(frozen=True, slots=True)
class BotSettings:
    """A zone's bot-management configuration, named after Cloudflare's API fields."""

    zone_id: str
    enable_js: bool = True
    fight_mode: bool = False
    sbfm_definitely_automated: str = "allow"
    sbfm_likely_automated: str = "allow"
    sbfm_verified_bots: str = "allow"
    sbfm_static_resource_protection: bool = False
    optimize_wordpress: bool = False
    ai_bots_protection: str = "disabled"
    crawler_protection: str = "disabled"
    auto_update_model: bool = True
    suppress_session_score: bool = False
    bm_cookie_enabled: bool = True
    anomaly_detection: bool = False
    model_pin: str | None = None
    modified_on: datetime | None = None


# The settings an operator can change, with their Python type (the rest are read-only).
SETTING_FIELDS: tuple[str, ...] = (
    "enable_js",
    "fight_mode",
    "sbfm_definitely_automated",
    "sbfm_likely_automated",
    "sbfm_verified_bots",
    "sbfm_static_resource_protection",
    "optimize_wordpress",
    "ai_bots_protection",
    "crawler_protection",
    "auto_update_model",
    "suppress_session_score",
    "bm_cookie_enabled",
    "anomaly_detection",
    "model_pin",
)


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: str
    expression: str
    action: str
    description: str
    enabled: bool
    action_parameters: dict[str, Any] | None
    ratelimit: dict[str, Any] | None
    ref: str
    compiled_ok: bool
    fingerprint: str
    version: int
    last_updated: datetime

    def to_rule_dict(self) -> dict[str, Any]:
        """The rule in the shape `rules.ruleset.Rule.from_dict` reads."""
        out: dict[str, Any] = {
            "id": self.id,
            "expression": self.expression,
            "action": self.action,
            "description": self.description,
            "enabled": self.enabled,
        }
        if self.action_parameters:
            out["action_parameters"] = self.action_parameters
        if self.ratelimit:
            out["ratelimit"] = self.ratelimit
        return out


@dataclass(frozen=True, slots=True)
class RuleInput:
    """A validated rule ready to be stored (the API checks it with the rules language)."""

    expression: str
    action: str
    description: str = ""
    enabled: bool = True
    action_parameters: dict[str, Any] | None = None
    ratelimit: dict[str, Any] | None = None
    ref: str = ""
    fingerprint: str = ""
    compiled_ok: bool = True
    id: str | None = None  # keep an existing rule's id (and bump its version)


@dataclass(frozen=True, slots=True)
class Ruleset:
    id: str
    zone_id: str
    phase: str
    name: str
    description: str
    version: int
    last_updated: datetime
    rules: tuple[StoredRule, ...] = ()


@dataclass(frozen=True, slots=True)
class NamedListRecord:
    id: str
    account_id: str
    name: str
    kind: str  # ip | asn | hostname
    description: str
    num_items: int
    num_referencing_filters: int
    created_on: datetime
    modified_on: datetime


@dataclass(frozen=True, slots=True)
class ListItem:
    id: str
    list_id: str
    value: str
    comment: str
    created_on: datetime
    modified_on: datetime


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    """A validated feedback report as submitted (the API validates it)."""

    type: FeedbackType
    description: str
    expression: str
    first_request_seen_at: datetime
    last_request_seen_at: datetime
    requests: int
    subtype: str | None = None
    requests_by_score: dict[str, int] | None = None
    requests_by_score_src: dict[str, int] | None = None
    requests_by_attribute: dict[str, list[dict[str, Any]]] | None = None


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    id: str
    zone_id: str
    type: FeedbackType
    subtype: str | None
    description: str
    expression: str
    first_request_seen_at: datetime
    last_request_seen_at: datetime
    requests: int
    requests_by_score: dict[str, int] | None
    requests_by_score_src: dict[str, int] | None
    requests_by_attribute: dict[str, list[dict[str, Any]]] | None
    status: FeedbackStatus
    reviewer: str | None
    note: str | None
    created_by: str
    created_on: datetime
    modified_on: datetime
    reviewed_on: datetime | None
    idempotency_key: str | None = field(default=None, repr=False)
    model_version: str | None = None
    """The model version trained on this report's labels (the feedback loop sets it)."""
    labelled_rows: int | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    version: str
    description: str
    fingerprint: str
    metrics: dict[str, Any]
    created_on: datetime
    promoted_on: datetime | None
    parent: str | None = None
    state: str = "candidate"
    feedback_reports: tuple[str, ...] = ()

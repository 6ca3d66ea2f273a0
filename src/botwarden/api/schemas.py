"""Request and response bodies of the API, as pydantic models: they validate input and
make the OpenAPI document (`/client/v4/openapi.json`) say exactly what is answered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

T = TypeVar("T")

ZONE_ID = r"^[0-9a-f]{32}$"
Count = Annotated[StrictInt, Field(ge=0, le=2**53)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- envelope -------------------------------------------------------------------------------


class Message(BaseModel):
    code: int
    message: str


class ResultInfo(BaseModel):
    page: int
    per_page: int
    count: int
    total_count: int
    total_pages: int


class Envelope(BaseModel, Generic[T]):
    success: bool
    errors: list[Message]
    messages: list[Message]
    result: T | None = None
    result_info: ResultInfo | None = None


class ErrorEnvelope(BaseModel):
    success: Literal[False]
    errors: list[Message]
    messages: list[Message]
    result: None = None
    result_info: None = None


# -- user, tokens, accounts -------------------------------------------------------------------


class TokenVerify(BaseModel):
    id: str
    status: Literal["active", "disabled", "expired"]
    not_before: datetime | None = None
    expires_on: datetime | None = None


class UserOut(BaseModel):
    id: str
    email: str
    created_on: datetime
    has_pro_zones: bool = False
    has_business_zones: bool = False
    has_enterprise_zones: bool = False


class PermissionGroup(BaseModel):
    id: str
    name: str
    scopes: list[str]


class AccountOut(BaseModel):
    id: str
    name: str
    created_on: datetime


# -- zones ------------------------------------------------------------------------------------


class AccountRef(BaseModel):
    id: str
    name: str


class PlanOut(BaseModel):
    id: str
    name: str
    legacy_id: str
    is_subscribed: bool = True
    can_subscribe: bool = False
    price: int = 0
    currency: str = "USD"
    frequency: str = ""
    externally_managed: bool = False


class ZoneOut(BaseModel):
    id: str
    name: str
    status: str
    paused: bool
    type: str
    development_mode: int
    name_servers: list[str]
    original_name_servers: list[str] | None
    account: AccountRef
    plan: PlanOut
    permissions: list[str]
    created_on: datetime
    modified_on: datetime
    activated_on: datetime


# -- bot management ---------------------------------------------------------------------------

SbfmAction = Literal["allow", "block", "managed_challenge"]


class BotManagementOut(BaseModel):
    """Which fields appear depends on the zone's plan (see docs/api.md)."""

    enable_js: bool | None = None
    fight_mode: bool | None = None
    sbfm_definitely_automated: SbfmAction | None = None
    sbfm_likely_automated: SbfmAction | None = None
    sbfm_verified_bots: Literal["allow", "block"] | None = None
    sbfm_static_resource_protection: bool | None = None
    optimize_wordpress: bool | None = None
    ai_bots_protection: Literal["block", "disabled", "only_on_ad_pages"] | None = None
    crawler_protection: Literal["enabled", "disabled"] | None = None
    auto_update_model: bool | None = None
    suppress_session_score: bool | None = None
    bm_cookie_enabled: bool | None = None
    using_latest_model: bool | None = None
    stale_zone_configuration: dict[str, Any] | None = None
    anomaly_detection: bool | None = None
    model_pin: str | None = None
    model_version: str | None = None


class BotManagementIn(Strict):
    """Only the fields sent change; fields the plan does not include are refused."""

    enable_js: bool | None = None
    fight_mode: bool | None = None
    sbfm_definitely_automated: SbfmAction | None = None
    sbfm_likely_automated: SbfmAction | None = None
    sbfm_verified_bots: Literal["allow", "block"] | None = None
    sbfm_static_resource_protection: bool | None = None
    optimize_wordpress: bool | None = None
    ai_bots_protection: Literal["block", "disabled", "only_on_ad_pages"] | None = None
    crawler_protection: Literal["enabled", "disabled"] | None = None
    auto_update_model: bool | None = None
    suppress_session_score: bool | None = None
    bm_cookie_enabled: bool | None = None
    anomaly_detection: bool | None = None
    model_pin: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # Read-only fields: accepted (so a GET result can be PUT back) and ignored.
    using_latest_model: bool | None = None
    stale_zone_configuration: dict[str, Any] | None = None
    model_version: str | None = None


class ModelPinIn(Strict):
    version: Annotated[str, Field(min_length=1, max_length=64)] | None


# -- rulesets ---------------------------------------------------------------------------------

Phase = Literal["http_request_firewall_custom", "http_ratelimit"]


class Position(Strict):
    before: str | None = None
    after: str | None = None
    index: Annotated[int, Field(ge=1)] | None = None


class RuleIn(Strict):
    id: str | None = None
    ref: Annotated[str, Field(max_length=64)] | None = None
    expression: Annotated[str, Field(min_length=1, max_length=8192)]
    action: str
    description: Annotated[str, Field(max_length=500)] = ""
    enabled: bool = True
    action_parameters: dict[str, Any] | None = None
    ratelimit: dict[str, Any] | None = None
    position: Position | None = None
    # Read-only fields of a fetched rule, accepted and ignored.
    version: str | None = None
    last_updated: datetime | None = None
    logging: dict[str, Any] | None = None
    categories: list[str] | None = None
    compiled: bool | None = None
    fingerprint: str | None = None


class RulePatch(Strict):
    """PATCH: fields not sent keep their value."""

    ref: Annotated[str, Field(max_length=64)] | None = None
    expression: Annotated[str, Field(min_length=1, max_length=8192)] | None = None
    action: str | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    enabled: bool | None = None
    action_parameters: dict[str, Any] | None = None
    ratelimit: dict[str, Any] | None = None
    position: Position | None = None
    id: str | None = None
    version: str | None = None
    last_updated: datetime | None = None
    logging: dict[str, Any] | None = None
    categories: list[str] | None = None
    compiled: bool | None = None
    fingerprint: str | None = None


class RulesetIn(Strict):
    name: Annotated[str, Field(max_length=255)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    rules: Annotated[list[RuleIn], Field(max_length=1000)] = []
    kind: Literal["zone"] | None = None
    phase: Phase | None = None
    id: str | None = None
    version: str | None = None
    last_updated: datetime | None = None


class RuleOut(BaseModel):
    id: str
    ref: str
    version: str
    action: str
    expression: str
    description: str
    enabled: bool
    last_updated: datetime
    action_parameters: dict[str, Any] | None = None
    ratelimit: dict[str, Any] | None = None
    compiled: bool
    fingerprint: str


class RulesetSummary(BaseModel):
    id: str
    name: str
    description: str
    kind: Literal["zone"]
    phase: str
    version: str
    last_updated: datetime


class RulesetOut(RulesetSummary):
    rules: list[RuleOut]


# -- lists ------------------------------------------------------------------------------------


class ListIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")]
    kind: Literal["ip", "asn", "hostname"]
    description: Annotated[str, Field(max_length=500)] = ""


class ListUpdate(Strict):
    description: Annotated[str, Field(max_length=500)] = ""


class ListOut(BaseModel):
    id: str
    name: str
    kind: str
    description: str
    num_items: int
    num_referencing_filters: int
    created_on: datetime
    modified_on: datetime


class Hostname(Strict):
    url_hostname: Annotated[str, Field(min_length=1, max_length=253)]


class ListItemIn(Strict):
    ip: Annotated[str, Field(max_length=64)] | None = None
    asn: Annotated[StrictInt, Field(ge=0, le=4294967295)] | None = None
    hostname: Hostname | None = None
    comment: Annotated[str, Field(max_length=500)] = ""


class ListItemOut(BaseModel):
    id: str
    ip: str | None = None
    asn: int | None = None
    hostname: Hostname | None = None
    comment: str
    created_on: datetime
    modified_on: datetime


class ItemRef(Strict):
    id: str


class ItemsDelete(Strict):
    items: Annotated[list[ItemRef], Field(max_length=10000)]


class Operation(BaseModel):
    operation_id: str


class OperationStatus(BaseModel):
    id: str
    status: Literal["pending", "running", "completed", "failed"]
    completed: datetime | None = None
    error: str | None = None


class Deleted(BaseModel):
    id: str


# -- feedback ---------------------------------------------------------------------------------


class AttributeCount(Strict):
    metric: Annotated[str, Field(max_length=1024)] | StrictInt
    requests: Count


SEED_FEEDBACK_EXAMPLE: dict[str, Any] = {
    "type": "false_positive",
    "description": "Legitimate customers having low score",
    "expression": (
        "(cf.bot_management.score le 46 and ip.geoip.asnum eq 132892 and http.host eq "
        '"api-discovery.theburritobot.com" and cf.bot_management.ja3_hash eq '
        '"3fed133de60c35724739b913924b6c24")'
    ),
    "first_request_seen_at": "2022-08-01T00:00:00Z",
    "last_request_seen_at": "2022-08-10T00:00:00Z",
    "requests": 100,
    "requests_by_score": {"1": 50, "10": 50},
    "requests_by_score_src": {"heuristics": 25, "machine_learning": 75},
    "requests_by_attribute": {
        "topIPs": [{"metric": "10.75.34.1", "requests": 100}],
        "topUserAgents": [{"metric": "curl/7.68.0", "requests": 100}],
    },
}


class FeedbackIn(Strict):
    """A false positive / false negative report (the seed's Feedback API body)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [SEED_FEEDBACK_EXAMPLE]}
    )

    type: Literal["false_positive", "false_negative"]
    subtype: Annotated[str, Field(max_length=64)] | None = None
    description: Annotated[str, Field(max_length=1000)]
    expression: Annotated[str, Field(max_length=4096)]
    first_request_seen_at: AwareDatetime
    last_request_seen_at: AwareDatetime
    requests: Annotated[StrictInt, Field(gt=0, le=2**53)]
    requests_by_score: dict[str, Count] | None = None
    requests_by_score_src: dict[str, Count] | None = None
    requests_by_attribute: (
        dict[str, Annotated[list[AttributeCount], Field(max_length=1000)]] | None
    ) = None


class FeedbackOut(BaseModel):
    id: str
    zone_id: str
    type: Literal["false_positive", "false_negative"]
    subtype: str | None
    description: str
    expression: str
    first_request_seen_at: datetime
    last_request_seen_at: datetime
    requests: int
    requests_by_score: dict[str, int] | None
    requests_by_score_src: dict[str, int] | None
    requests_by_attribute: dict[str, list[dict[str, Any]]] | None
    status: Literal["pending", "accepted", "rejected", "labelled"]
    reviewer: str | None
    note: str | None
    created_by: str
    created_on: datetime
    modified_on: datetime
    reviewed_on: datetime | None
    # Botwarden's additions (Cloudflare's fields above are unchanged): where the report
    # stands in the feedback loop — pending, accepted, rejected, "in training" or
    # "in model vN" — the model version trained on it, and how many labelled rows it gave.
    status_detail: str | None = None
    model_version: str | None = None
    labelled_rows: int | None = None


class FeedbackReview(Strict):
    """The review update: `status` (accept, reject or reopen), or a relabel — `type` (and,
    for a false negative, `subtype`), which accepts the report as relabelled."""

    status: Literal["pending", "accepted", "rejected"] | None = None
    type: Literal["false_positive", "false_negative"] | None = None
    subtype: Annotated[str, Field(max_length=64)] | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None


class FeedbackPrefill(BaseModel):
    """The fields the dashboard's "Report incorrect data" form sends, from analytics."""

    expression: str
    first_request_seen_at: datetime
    last_request_seen_at: datetime
    requests: int
    requests_by_score: dict[str, int] | None = None
    requests_by_score_src: dict[str, int]
    requests_by_attribute: dict[str, list[dict[str, Any]]]


# -- analytics --------------------------------------------------------------------------------


class AnalyticsSummary(BaseModel):
    requests: int
    by_grouping: dict[str, int]
    by_score_src: dict[str, int]


class TimePoint(BaseModel):
    ts: datetime
    requests: int
    by_grouping: dict[str, int]


class TopItem(BaseModel):
    metric: str
    requests: int


class HistogramOut(BaseModel):
    """Granular scores (enterprise) or groupings (other plans)."""

    granular: bool
    buckets: dict[str, int]


# -- models -----------------------------------------------------------------------------------


class ModelOut(BaseModel):
    version: str
    description: str
    fingerprint: str
    metrics: dict[str, Any]
    created_on: datetime
    promoted_on: datetime | None
    latest: bool

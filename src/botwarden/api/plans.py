"""What each plan includes, as the seed documents it: granular scores only on enterprise
(other plans see groupings), Bot Analytics from pro up, Super Bot Fight Mode settings on
pro and business, and feedback for callers with Bot Analytics access or, on business and
enterprise, with Super Bot Fight Mode enabled."""

from __future__ import annotations

from dataclasses import fields

from botwarden.store import BotSettings, Permission, Plan

_COMMON = frozenset({"enable_js", "ai_bots_protection", "crawler_protection", "model_pin"})
_SBFM = frozenset(
    {
        "optimize_wordpress",
        "sbfm_definitely_automated",
        "sbfm_verified_bots",
        "sbfm_static_resource_protection",
    }
)
SETTINGS_BY_PLAN: dict[Plan, frozenset[str]] = {
    Plan.FREE: _COMMON | {"fight_mode"},
    Plan.PRO: _COMMON | _SBFM,
    Plan.BUSINESS: _COMMON | _SBFM | {"sbfm_likely_automated"},
    Plan.ENTERPRISE: _COMMON
    | {"auto_update_model", "suppress_session_score", "bm_cookie_enabled", "anomaly_detection"},
}
_DEFAULTS = BotSettings(zone_id="")


def availability(setting: str) -> str:
    """Which plans include a setting, in words: "the pro and business plans"."""
    names = [p.value for p in Plan if setting in SETTINGS_BY_PLAN[p]]
    if not names:
        return "no plan"
    if len(names) == 1:
        return f"the {names[0]} plan"
    return f"the {', '.join(names[:-1])} and {names[-1]} plans"


def stale_settings(plan: Plan, settings: BotSettings) -> dict[str, object]:
    """Settings left active from another plan (after an upgrade or a downgrade)."""
    allowed = SETTINGS_BY_PLAN[plan]
    out: dict[str, object] = {}
    for f in fields(BotSettings):
        if f.name in ("zone_id", "modified_on") or f.name in allowed:
            continue
        value = getattr(settings, f.name)
        if value != getattr(_DEFAULTS, f.name):
            out[f.name] = value
    return out


def granular_scores(plan: Plan) -> bool:
    return plan is Plan.ENTERPRISE


def has_bot_analytics(plan: Plan) -> bool:
    return plan.at_least(Plan.PRO)


def sbfm_enabled(settings: BotSettings) -> bool:
    """SBFM acts on some traffic (definitely or likely automated is not just allowed)."""
    return (
        settings.sbfm_definitely_automated != "allow" or settings.sbfm_likely_automated != "allow"
    )


def feedback_allowed(plan: Plan, settings: BotSettings, permissions: frozenset[Permission]) -> bool:
    if Permission.BOT_FEEDBACK_WRITE not in permissions:
        return False
    if has_bot_analytics(plan) and Permission.BOT_ANALYTICS_READ in permissions:
        return True
    return plan in (Plan.BUSINESS, Plan.ENTERPRISE) and sbfm_enabled(settings)

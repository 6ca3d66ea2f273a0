"""Settings: a zone's bot management settings (JavaScript detections, anomaly detection,
Super Bot Fight Mode, model auto-update or pin), read and written through the API's
own `bot_management` route functions, so the fields shown follow the zone's plan and a
bad value gets the message an API client would get, beside its field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from botwarden.api.envelope import APIError
from botwarden.api.routes import bot_management as api_bm
from botwarden.api.schemas import BotManagementIn
from botwarden.dashboard.deps import ZonePage, ZoneView, store_of
from botwarden.dashboard.templating import base_path, errors_of, render
from botwarden.store import Permission, Plan

router = APIRouter()

# (field, label, help) in the order shown; a field the zone's plan lacks is not shown.
TOGGLES: tuple[tuple[str, str, str], ...] = (
    (
        "enable_js",
        "JavaScript detections",
        "Inject a small script on HTML pages to find headless browsers.",
    ),
    (
        "anomaly_detection",
        "Anomaly detection",
        "Score requests that stray from the zone's learned baseline (Behavioral Analysis).",
    ),
    ("fight_mode", "Bot Fight Mode", "Challenge requests that match known bot patterns."),
    (
        "sbfm_static_resource_protection",
        "Static resource protection",
        "Apply Super Bot Fight Mode to static files too.",
    ),
    ("optimize_wordpress", "Optimize for WordPress", "Let WordPress loopback requests through."),
    (
        "suppress_session_score",
        "Suppress session score",
        "Score each request on its own instead of smoothing over the __cf_bm session.",
    ),
    ("bm_cookie_enabled", "__cf_bm cookie", "Set the bot management session cookie."),
)
CHOICES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "sbfm_definitely_automated",
        "Definitely automated",
        (("allow", "Allow"), ("block", "Block"), ("managed_challenge", "Managed challenge")),
    ),
    (
        "sbfm_likely_automated",
        "Likely automated",
        (("allow", "Allow"), ("block", "Block"), ("managed_challenge", "Managed challenge")),
    ),
    ("sbfm_verified_bots", "Verified bots", (("allow", "Allow"), ("block", "Block"))),
    (
        "ai_bots_protection",
        "AI bots",
        (
            ("disabled", "Do not block"),
            ("block", "Block"),
            ("only_on_ad_pages", "Block only on pages with ads"),
        ),
    ),
    (
        "crawler_protection",
        "AI labyrinth (crawler protection)",
        (("disabled", "Disabled"), ("enabled", "Enabled")),
    ),
)
FIELDS = frozenset(name for name, _, _ in TOGGLES) | frozenset(n for n, _, _ in CHOICES)


def _field_of(message: str) -> str:
    """The field an API message is about: its text starts with `name:`."""
    head = message.split(":", 1)[0].strip()
    return head if head in FIELDS or head in ("model_pin", "auto_update_model") else "_form"


async def _current(request: Request, view: ZoneView) -> dict[str, Any]:
    result: dict[str, Any] = (await api_bm.get_settings(request, view.access))["result"]
    return result


def _context(
    request: Request,
    view: ZoneView,
    current: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    saved: bool = False,
) -> dict[str, Any]:
    models, _ = store_of(request).list_models(per_page=100)
    return {
        "zone": view.zone,
        "nav_active": "settings",
        "s": current,
        "toggles": [t for t in TOGGLES if t[0] in current],
        "choices": [c for c in CHOICES if c[0] in current],
        "sbfm_shown": any(k.startswith("sbfm_") for k in current),
        "versions": [m.version for m in models],
        "enterprise": view.zone.plan is Plan.ENTERPRISE,
        "can_edit": view.access.has(Permission.BOT_MANAGEMENT_EDIT),
        "errors": errors or {},
        "saved": saved,
    }


def _forbidden_read(view: ZoneView) -> bool:
    return not view.access.has(Permission.BOT_MANAGEMENT_READ)


@router.get("/zones/{zone_id}/settings", response_class=HTMLResponse)
async def settings_page(request: Request, page: ZonePage, saved: int = 0) -> HTMLResponse:
    if _forbidden_read(page):
        message = "You cannot read this zone's settings (needs Bot Management Read)."
        ctx = {"title": "Forbidden", "message": message}
        return render(request, "error.html", ctx, status_code=403)
    current = await _current(request, page)
    return render(request, "settings.html", _context(request, page, current, saved=bool(saved)))


def _body_from_form(
    form: dict[str, Any], shown: dict[str, Any], enterprise: bool
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The PUT body the form means: every toggle shown (unchecked: false) and every
    choice sent."""
    body: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, _, _ in TOGGLES:
        if name in shown:
            body[name] = form.get(name) == "true"
    for name, _, _ in CHOICES:
        if name in shown and name in form:  # a choice not sent keeps its value
            body[name] = form[name]
    mode = form.get("model_mode", "auto")
    pin = (form.get("model_pin") or "").strip()
    if mode == "auto":
        body["model_pin"] = None
        if enterprise:
            body["auto_update_model"] = True
    elif mode == "pin":
        if not pin:
            errors["model_pin"] = ["model_pin: choose the version to pin the zone to"]
        body["model_pin"] = pin or None
        if enterprise:
            body["auto_update_model"] = False
    else:
        errors["model_pin"] = [f"model_mode: {mode!r} is not 'auto' or 'pin'"]
    return body, errors


@router.post("/zones/{zone_id}/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request,
    page: ZonePage,
    model_mode: Annotated[str, Form()] = "auto",
    model_pin: Annotated[str, Form()] = "",
) -> Response:
    current = await _current(request, page)
    if not page.access.has(Permission.BOT_MANAGEMENT_EDIT):
        errors = {"_form": ["Changing settings needs Bot Management Edit on this zone."]}
        return render(
            request, "settings.html", _context(request, page, current, errors), status_code=403
        )
    raw = await request.form()
    form: dict[str, Any] = {k: v for k, v in raw.items() if isinstance(v, str)}
    form["model_mode"], form["model_pin"] = model_mode, model_pin
    data, errors = _body_from_form(form, current, page.zone.plan is Plan.ENTERPRISE)
    if not errors:
        try:
            body = BotManagementIn.model_validate(data)
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] else "_form"
                value = data.get(name)
                errors.setdefault(name, []).append(f"{name}: {e['msg']} (got {value!r})")
        else:
            try:
                api_bm.put_settings(request, body, page.access)
            except APIError as exc:
                for message in errors_of(exc):
                    errors.setdefault(_field_of(message), []).append(message)
    if errors:
        shown = {**current, **{k: v for k, v in data.items() if k in current}}
        return render(
            request, "settings.html", _context(request, page, shown, errors), status_code=400
        )
    url = f"{base_path(request)}/zones/{page.zone.id}/settings?saved=1"
    return RedirectResponse(url, status_code=303)

"""Security › Rules: a zone's custom rules (`http_request_firewall_custom`) and
rate-limiting rules (`http_ratelimit`) — list, create, edit, reorder, enable / disable,
delete — through the Rulesets API's own route functions, so a rule saved here passes the
same checks (parse, types, lists, plan) as one sent by an API client.

The expression editor is checked as it is typed (`/rules/check`): the caret error of the
rules language, and a preview — how many requests of the last 24 hours the expression
matches, from the analytics API's summary with the expression as its filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from botwarden.api import envelope, expressions
from botwarden.api.envelope import APIError
from botwarden.api.routes import analytics as api_analytics
from botwarden.api.routes import rulesets as api_rulesets
from botwarden.api.schemas import ZONE_ID, Position, RuleIn, RulePatch, RulesetIn
from botwarden.api.schemas import Phase as ApiPhase
from botwarden.dashboard.deps import ZonePage, ZoneView, store_of
from botwarden.dashboard.templating import base_path, errors_of, render
from botwarden.rules import RuleSyntaxError, compile_rule
from botwarden.rules.ruleset import PHASE_ACTIONS, Action, Phase
from botwarden.rules.scheme import FIELDS, field_names
from botwarden.store import Permission

router = APIRouter()
RuleId = Annotated[str, Path(pattern=ZONE_ID)]

PHASES: dict[str, str] = {
    Phase.CUSTOM.value: "Custom rules",
    Phase.RATELIMIT.value: "Rate limiting rules",
}
ACTION_LABELS: dict[str, str] = {
    Action.BLOCK: "Block",
    Action.MANAGED_CHALLENGE: "Managed challenge",
    Action.JS_CHALLENGE: "JS challenge",
    Action.CHALLENGE: "Interactive challenge",
    Action.LOG: "Log",
    Action.SKIP: "Skip",
    Action.ALLOW: "Allow",
}
PREVIEW_WINDOW = timedelta(hours=24)
MAX_EXPRESSION = 8192
DEFAULT_CHARACTERISTICS = "ip.src"
_SAVED = {k: k for k in ("created", "updated", "moved", "enabled", "disabled", "deleted")}


def _actions(phase: str) -> list[tuple[str, str]]:
    allowed = PHASE_ACTIONS[Phase(phase)]
    return [(a.value, ACTION_LABELS[a]) for a in Action if a in allowed]


def _require_edit(view: ZoneView) -> None:
    # The page calls route functions directly, so the permission their dependency would
    # check is checked here.
    if not view.access.has(Permission.FIREWALL_EDIT):
        raise envelope.forbidden(
            f"your account lacks {Permission.FIREWALL_EDIT.label} for this zone"
        )


def _phase_of(phase: str) -> str:
    if phase not in PHASES:
        raise envelope.invalid(f"phase: use one of {', '.join(PHASES)}")
    return phase


def _ruleset(request: Request, view: ZoneView, phase: str) -> dict[str, Any] | None:
    try:
        rs: dict[str, Any] = api_rulesets.get_entrypoint(
            request, view.access, cast(ApiPhase, phase)
        )["result"]
    except APIError as exc:
        if exc.status == 404:
            return None
        raise
    return rs


# -- the list --------------------------------------------------------------------------------


def _list(
    request: Request, view: ZoneView, errors: list[str] | None = None, status_code: int = 200
) -> HTMLResponse:
    sections: list[dict[str, Any]] = []
    try:
        _require_edit(view)
        for phase, title in PHASES.items():
            rs = _ruleset(request, view, phase)
            sections.append(
                {"phase": phase, "title": title, "ruleset": rs,
                 "rules": rs["rules"] if rs else []}
            )  # fmt: skip
    except APIError as exc:
        errors, status_code = errors_of(exc), exc.status
    return render(
        request,
        "rules.html",
        {
            "nav_active": "rules",
            "sections": sections,
            "errors": errors or [],
            "actions": ACTION_LABELS,
            "saved": _SAVED.get(request.query_params.get("saved", ""), ""),
        },
        status_code=status_code,
    )


@router.get("/zones/{zone_id}/rules", response_class=HTMLResponse)
def rules_page(request: Request, view: ZonePage) -> HTMLResponse:
    return _list(request, view)


def _back(view: ZoneView, request: Request, saved: str = "") -> RedirectResponse:
    url = f"{base_path(request)}/zones/{view.zone.id}/rules"
    return RedirectResponse(url + (f"?saved={saved}" if saved else ""), status_code=303)


def _find(request: Request, view: ZoneView, rule_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ruleset holding `rule_id` and the rule, in either phase."""
    for phase in PHASES:
        rs = _ruleset(request, view, phase)
        for r in rs["rules"] if rs else []:
            if r["id"] == rule_id:
                assert rs is not None
                return rs, r
    raise envelope.not_found(f"rule {rule_id}")


def _list_error(request: Request, view: ZoneView, exc: APIError) -> HTMLResponse:
    return _list(request, view, errors_of(exc), exc.status)


# -- reorder, enable / disable, delete ------------------------------------------------------


@router.post("/zones/{zone_id}/rules/{rule_id}/move", response_model=None)
def move_rule(
    request: Request,
    view: ZonePage,
    rule_id: RuleId,
    direction: Annotated[str, Form(pattern="^(up|down)$")],
) -> Response:
    try:
        _require_edit(view)
        rs, _ = _find(request, view, rule_id)
        ids = [r["id"] for r in rs["rules"]]
        i = ids.index(rule_id)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(ids):
            pos = Position(before=ids[j]) if direction == "up" else Position(after=ids[j])
            api_rulesets.update_rule(
                request, view.access, rs["id"], rule_id, RulePatch(position=pos)
            )
    except APIError as exc:
        return _list_error(request, view, exc)
    return _back(view, request, "moved")


@router.post("/zones/{zone_id}/rules/{rule_id}/enabled", response_model=None)
def set_enabled(
    request: Request,
    view: ZonePage,
    rule_id: RuleId,
    enabled: Annotated[str, Form(pattern="^(true|false)$")],
) -> Response:
    try:
        _require_edit(view)
        rs, _ = _find(request, view, rule_id)
        api_rulesets.update_rule(
            request, view.access, rs["id"], rule_id, RulePatch(enabled=enabled == "true")
        )
    except APIError as exc:
        return _list_error(request, view, exc)
    return _back(view, request, "enabled" if enabled == "true" else "disabled")


@router.post("/zones/{zone_id}/rules/{rule_id}/delete", response_model=None)
def delete_rule(request: Request, view: ZonePage, rule_id: RuleId) -> Response:
    try:
        _require_edit(view)
        rs, _ = _find(request, view, rule_id)
        api_rulesets.delete_rule(request, view.access, rs["id"], rule_id)
    except APIError as exc:
        return _list_error(request, view, exc)
    return _back(view, request, "deleted")


# -- the editor ------------------------------------------------------------------------------


@dataclass
class RuleForm:
    """What the editor shows and sends; `errors` by field ("" for the whole form)."""

    phase: str
    description: str = ""
    expression: str = ""
    action: str = "block"
    enabled: bool = True
    characteristics: str = DEFAULT_CHARACTERISTICS
    period: str = "60"
    requests_per_period: str = "100"
    mitigation_timeout: str = "60"
    counting_expression: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of_rule(cls, phase: str, r: dict[str, Any]) -> RuleForm:
        f = cls(phase, r["description"], r["expression"], r["action"], r["enabled"])
        rl = r.get("ratelimit")
        if rl:
            f.characteristics = ", ".join(rl.get("characteristics") or [])
            f.period = str(rl.get("period", ""))
            f.requests_per_period = str(rl.get("requests_per_period", ""))
            f.mitigation_timeout = str(rl.get("mitigation_timeout", 0))
            f.counting_expression = rl.get("counting_expression") or ""
        return f

    @property
    def is_ratelimit(self) -> bool:
        return self.phase == Phase.RATELIMIT

    def add_error(self, message: str) -> None:
        key = ""
        for name in ("counting_expression", "expression", "action", "description"):
            if f"{name}:" in message.split("\n", 1)[0]:
                key = name
                break
        else:
            if any(w in message for w in ("ratelimit", "period", "characteristic")):
                key = "ratelimit"
        self.errors.setdefault(key, []).append(message)

    def body(self) -> dict[str, Any]:
        """The rule as an API client would send it (raises ValueError on a bad number)."""
        doc: dict[str, Any] = {
            "description": self.description,
            "expression": self.expression,
            "action": self.action,
            "enabled": self.enabled,
        }
        if self.is_ratelimit:
            rl: dict[str, Any] = {
                "characteristics": [
                    c.strip() for c in self.characteristics.split(",") if c.strip()
                ],
                "counting_expression": self.counting_expression.strip(),
            }
            for name in ("period", "requests_per_period", "mitigation_timeout"):
                raw = getattr(self, name).strip()
                try:
                    rl[name] = int(raw)
                except ValueError:
                    raise ValueError(
                        f"ratelimit: {name.replace('_', ' ')} must be a whole number (got {raw!r})"
                    ) from None
            doc["ratelimit"] = rl
        return doc


def _editor(
    request: Request, form: RuleForm, rule_id: str | None, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "rules_edit.html",
        {
            "nav_active": "rules",
            "form": form,
            "rule_id": rule_id,
            "phase_title": PHASES[form.phase],
            "actions": _actions(form.phase),
            "fields": field_names(),
            "field_help": {n: f.help for n, f in FIELDS.items()},
            "max_expression": MAX_EXPRESSION,
        },
        status_code=status_code,
    )


@router.get("/zones/{zone_id}/rules/new", response_class=HTMLResponse)
def new_rule(
    request: Request,
    view: ZonePage,
    phase: Annotated[str, Query(max_length=64)] = Phase.CUSTOM.value,
) -> HTMLResponse:
    try:
        _require_edit(view)
        form = RuleForm(_phase_of(phase))
    except APIError as exc:
        return _list_error(request, view, exc)
    return _editor(request, form, None)


@router.get("/zones/{zone_id}/rules/{rule_id}/edit", response_class=HTMLResponse)
def edit_rule(request: Request, view: ZonePage, rule_id: RuleId) -> HTMLResponse:
    try:
        _require_edit(view)
        rs, r = _find(request, view, rule_id)
    except APIError as exc:
        return _list_error(request, view, exc)
    return _editor(request, RuleForm.of_rule(rs["phase"], r), rule_id)


FormText = Annotated[str, Form(max_length=MAX_EXPRESSION)]
FormShort = Annotated[str, Form(max_length=500)]


def _form(
    phase: Annotated[str, Form(max_length=64)],
    expression: FormText = "",
    description: FormShort = "",
    action: Annotated[str, Form(max_length=64)] = "",
    enabled: Annotated[str, Form(max_length=8)] = "",
    characteristics: FormShort = DEFAULT_CHARACTERISTICS,
    period: Annotated[str, Form(max_length=32)] = "",
    requests_per_period: Annotated[str, Form(max_length=32)] = "",
    mitigation_timeout: Annotated[str, Form(max_length=32)] = "0",
    counting_expression: FormText = "",
) -> RuleForm:
    """The editor's form fields (a dependency of the create and save routes); the phase is
    checked by the route."""
    return RuleForm(
        phase,
        description.strip(),
        expression.strip(),
        action,
        enabled in ("on", "true"),
        characteristics,
        period,
        requests_per_period,
        mitigation_timeout,
        counting_expression,
    )


EditorForm = Annotated[RuleForm, Depends(_form)]


def _save(request: Request, view: ZoneView, form: RuleForm, rule_id: str | None) -> Response:
    if not form.expression:
        form.add_error("expression: write the expression the rule matches")
    if form.action not in dict(_actions(form.phase)):
        form.add_error(f"action: choose one of {', '.join(a for a, _ in _actions(form.phase))}")
    try:
        doc = form.body()
    except ValueError as exc:
        form.add_error(str(exc))
    if form.errors:
        return _editor(request, form, rule_id, 400)
    try:
        if rule_id is not None:
            rs, _ = _find(request, view, rule_id)
            api_rulesets.update_rule(
                request, view.access, rs["id"], rule_id, RulePatch.model_validate(doc)
            )
        else:
            existing = _ruleset(request, view, form.phase)
            if existing is None:
                api_rulesets.put_entrypoint(
                    request,
                    view.access,
                    cast(ApiPhase, form.phase),
                    RulesetIn(rules=[RuleIn.model_validate(doc)]),
                )
            else:
                api_rulesets.add_rule(
                    request, view.access, existing["id"], RuleIn.model_validate(doc)
                )
    except APIError as exc:
        for message in errors_of(exc):
            form.add_error(message)
        return _editor(request, form, rule_id, exc.status if exc.status != 200 else 400)
    return _back(view, request, "updated" if rule_id else "created")


@router.post("/zones/{zone_id}/rules", response_model=None)
def create_rule(
    request: Request,
    view: ZonePage,
    form: EditorForm,
) -> Response:
    try:
        _require_edit(view)
        form.phase = _phase_of(form.phase)
    except APIError as exc:
        return _list_error(request, view, exc)
    return _save(request, view, form, None)


@router.post("/zones/{zone_id}/rules/{rule_id}", response_model=None)
def save_rule(
    request: Request,
    view: ZonePage,
    rule_id: RuleId,
    form: EditorForm,
) -> Response:
    try:
        _require_edit(view)
        form.phase = _phase_of(form.phase)
    except APIError as exc:
        return _list_error(request, view, exc)
    return _save(request, view, form, rule_id)


# -- live check and preview ------------------------------------------------------------------


def check_expression(request: Request, view: ZoneView, text: str) -> dict[str, Any] | None:
    """None if the rule expression is fine for this zone, else the caret error."""
    try:
        compiled = compile_rule(text)
        expressions.check_rule(
            compiled, view.zone, expressions.account_lists(store_of(request), view.zone)
        )
    except RuleSyntaxError as exc:
        return {"message": exc.message, "line": exc.line, "column": exc.column,
                "source_line": exc.source_line, "caret": exc.caret}  # fmt: skip
    return None


def preview(request: Request, view: ZoneView, text: str) -> dict[str, Any]:
    """How many requests of the last 24 hours the expression matches: {"requests": n} or
    {"unavailable": why}."""
    if request.app.state.analytics is None:
        return {"unavailable": "no analytics store in this process"}
    until = datetime.now(UTC)
    try:
        result = api_analytics.summary(request, view.access, until - PREVIEW_WINDOW, until, text)[
            "result"
        ]
    except APIError as exc:
        return {"unavailable": "; ".join(errors_of(exc))}
    return {"requests": int(result["requests"])}


@router.get("/zones/{zone_id}/rules/check", response_class=HTMLResponse)
def check(
    request: Request,
    view: ZonePage,
    expression: Annotated[str, Query(max_length=MAX_EXPRESSION)] = "",
    counting_expression: Annotated[str, Query(max_length=MAX_EXPRESSION)] = "",
    target: Annotated[str, Query(pattern="^(expression|counting)$")] = "expression",
) -> HTMLResponse:
    """The editor's live check: the caret error, or "valid" and the 24-hour preview."""
    text = (counting_expression if target == "counting" else expression).strip()
    error = check_expression(request, view, text) if text else None
    shown = preview(request, view, text) if text and error is None else None
    return render(
        request,
        "_rules_check.html",
        {"text": text, "error": error, "preview": shown, "target": target},
    )

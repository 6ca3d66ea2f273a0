"""Rulesets: a zone's entrypoint ruleset per phase (`http_request_firewall_custom`,
`http_ratelimit`) and rule CRUD, in the shapes of Cloudflare's Rulesets API. Every rule
is compiled when it is written; an invalid one is refused with the caret error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from botwarden.api import envelope, expressions
from botwarden.api.auth import ZoneAccess, get_store, zone_access
from botwarden.api.schemas import (
    ZONE_ID,
    Envelope,
    Phase,
    Position,
    RuleIn,
    RulePatch,
    RulesetIn,
    RulesetOut,
    RulesetSummary,
)
from botwarden.errors import ConfigError
from botwarden.rules import RuleSyntaxError
from botwarden.rules.ruleset import Rule
from botwarden.store import Conflict, NotFound, Permission, RuleInput, Ruleset, StoredRule, Zone
from botwarden.store.repo import new_id

router = APIRouter(tags=["rulesets"])
Access = Annotated[ZoneAccess, zone_access(Permission.FIREWALL_EDIT)]
RulesetId = Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")]
RuleId = Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")]


def rule_json(r: StoredRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id,
        "ref": r.ref,
        "version": str(r.version),
        "action": r.action,
        "expression": r.expression,
        "description": r.description,
        "enabled": r.enabled,
        "last_updated": r.last_updated,
        "compiled": r.compiled_ok,
        "fingerprint": r.fingerprint,
    }
    if r.action_parameters:
        out["action_parameters"] = r.action_parameters
    if r.ratelimit:
        out["ratelimit"] = r.ratelimit
    return out


def ruleset_json(rs: Ruleset, with_rules: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rs.id,
        "name": rs.name,
        "description": rs.description,
        "kind": "zone",
        "phase": rs.phase,
        "version": str(rs.version),
        "last_updated": rs.last_updated,
    }
    if with_rules:
        out["rules"] = [rule_json(r) for r in rs.rules]
    return out


def _validate(
    zone: Zone,
    phase: str,
    data: dict[str, Any],
    rid: str,
    label: str,
    lists: expressions.ListValues,
) -> tuple[RuleInput | None, list[str]]:
    """A rule checked by the rules language and against the zone; (None, problems) if bad."""
    try:
        rule = Rule.from_dict({**data, "id": rid}, phase)
    except ConfigError as exc:
        msg = str(exc).removeprefix(f"rule {rid}: ")
        return None, [f"{label}: {msg}"]
    problems = []
    for what, compiled in (("expression", rule.compiled), ("counting_expression", rule.counting)):
        if compiled is None:
            continue
        try:
            expressions.check_rule(compiled, zone, lists)
        except RuleSyntaxError as exc:
            problems.append(f"{label}: {what}: {exc}")
    if problems:
        return None, problems
    d = rule.to_dict()
    return (
        RuleInput(
            expression=rule.expression,
            action=str(rule.action),
            description=rule.description,
            enabled=rule.enabled,
            action_parameters=d.get("action_parameters"),
            ratelimit=d.get("ratelimit"),
            ref=str(data.get("ref") or ""),
            fingerprint=rule.fingerprint,
            compiled_ok=True,
            id=rid,
        ),
        [],
    )


def _rule_data(body: RuleIn | RulePatch, base: StoredRule | None = None) -> dict[str, Any]:
    data: dict[str, Any] = base.to_rule_dict() if base is not None else {}
    data["ref"] = base.ref if base is not None else ""
    for k in ("expression", "action", "description", "enabled", "ref"):
        if k in body.model_fields_set and getattr(body, k) is not None:
            data[k] = getattr(body, k)
    for k in ("action_parameters", "ratelimit"):  # null removes them
        if k in body.model_fields_set:
            data[k] = getattr(body, k)
    data.setdefault("description", "")
    return data


def _index(rules: Sequence[StoredRule], pos: Position | None, label: str) -> int | None:
    if pos is None:
        return None
    given = [k for k in ("before", "after", "index") if getattr(pos, k) is not None]
    if len(given) != 1:
        raise envelope.invalid(f"{label}: give exactly one of before, after or index")
    ids = [r.id for r in rules]
    if pos.index is not None:
        return min(pos.index - 1, len(rules))
    target = pos.before if pos.before is not None else pos.after
    if target not in ids:
        raise envelope.invalid(f"{label}: rule {target} is not in this ruleset")
    i = ids.index(str(target))
    return i if pos.before is not None else i + 1


def _phase_ruleset(request: Request, zone: Zone, phase: str) -> Ruleset:
    try:
        return get_store(request).get_phase_ruleset(zone.id, phase)
    except NotFound:
        raise envelope.not_found(f"entrypoint ruleset for phase {phase}") from None


def _ruleset(request: Request, zone: Zone, ruleset_id: str) -> Ruleset:
    try:
        return get_store(request).get_ruleset(zone.id, ruleset_id)
    except NotFound:
        raise envelope.not_found(f"ruleset {ruleset_id}") from None


@router.get("/zones/{zone_id}/rulesets", response_model=Envelope[list[RulesetSummary]])
def list_rulesets(request: Request, access: Access) -> dict[str, Any]:
    sets = get_store(request).list_rulesets(access.zone.id)
    rows = [ruleset_json(rs, with_rules=False) for rs in sets]
    return envelope.ok(rows, envelope.page_info(1, max(1, len(rows)), len(rows), len(rows)))


@router.get(
    "/zones/{zone_id}/rulesets/phases/{phase}/entrypoint", response_model=Envelope[RulesetOut]
)
def get_entrypoint(request: Request, access: Access, phase: Phase) -> dict[str, Any]:
    return envelope.ok(ruleset_json(_phase_ruleset(request, access.zone, phase)))


def _replace(
    request: Request, zone: Zone, phase: str, body: RulesetIn, existing: Ruleset | None
) -> dict[str, Any]:
    store = get_store(request)
    lists = expressions.account_lists(store, zone)
    current = {r.id: r for r in existing.rules} if existing is not None else {}
    problems: list[str] = []
    rules: list[RuleInput] = []
    for i, r in enumerate(body.rules):
        label = f"rules[{i}]"
        if r.position is not None:
            problems.append(f"{label}.position: only for adding or updating a single rule")
        if r.id is not None and r.id not in current:
            problems.append(f"{label}.id: no rule {r.id} in this ruleset; omit id to add a rule")
            continue
        rid = r.id or new_id()
        checked, errs = _validate(zone, phase, _rule_data(r), rid, label, lists)
        problems += errs
        if checked is not None:
            rules.append(checked)
    if problems:
        raise envelope.invalid(*problems)
    try:
        rs = store.put_phase_ruleset(
            zone.id, phase, rules, name=body.name, description=body.description
        )
    except Conflict as exc:
        raise envelope.APIError(409, envelope.CONFLICT, str(exc)) from None
    return envelope.ok(ruleset_json(rs))


@router.put(
    "/zones/{zone_id}/rulesets/phases/{phase}/entrypoint", response_model=Envelope[RulesetOut]
)
def put_entrypoint(
    request: Request, access: Access, phase: Phase, body: RulesetIn
) -> dict[str, Any]:
    """Create or replace the phase's rules. Rules sent with an `id` keep it (and their
    version unless changed); rules without one are added; rules left out are removed."""
    if body.phase is not None and body.phase != phase:
        raise envelope.invalid(f"phase: the body says {body.phase}, the path says {phase}")
    try:
        existing: Ruleset | None = get_store(request).get_phase_ruleset(access.zone.id, phase)
    except NotFound:
        existing = None
    return _replace(request, access.zone, phase, body, existing)


@router.get("/zones/{zone_id}/rulesets/{ruleset_id}", response_model=Envelope[RulesetOut])
def get_ruleset(request: Request, access: Access, ruleset_id: RulesetId) -> dict[str, Any]:
    return envelope.ok(ruleset_json(_ruleset(request, access.zone, ruleset_id)))


@router.put("/zones/{zone_id}/rulesets/{ruleset_id}", response_model=Envelope[RulesetOut])
def put_ruleset(
    request: Request, access: Access, ruleset_id: RulesetId, body: RulesetIn
) -> dict[str, Any]:
    rs = _ruleset(request, access.zone, ruleset_id)
    if body.phase is not None and body.phase != rs.phase:
        raise envelope.invalid(f"phase: this ruleset's phase is {rs.phase}")
    return _replace(request, access.zone, rs.phase, body, rs)


@router.post("/zones/{zone_id}/rulesets/{ruleset_id}/rules", response_model=Envelope[RulesetOut])
def add_rule(
    request: Request, access: Access, ruleset_id: RulesetId, body: RuleIn
) -> dict[str, Any]:
    """Add a rule (at the end, or at `position`: before / after a rule id, or a 1-based
    index); answers the whole ruleset, as Cloudflare does."""
    store = get_store(request)
    rs = _ruleset(request, access.zone, ruleset_id)
    if body.id is not None:
        raise envelope.invalid("id: a new rule's id is chosen by the server; omit it")
    rid = new_id()
    checked, problems = _validate(
        access.zone,
        rs.phase,
        _rule_data(body),
        rid,
        "rule",
        expressions.account_lists(store, access.zone),
    )
    if checked is None:
        raise envelope.invalid(*problems)
    pos = _index(rs.rules, body.position, "position")
    return envelope.ok(ruleset_json(store.add_rule(access.zone.id, rs.id, checked, pos)))


@router.patch(
    "/zones/{zone_id}/rulesets/{ruleset_id}/rules/{rule_id}",
    response_model=Envelope[RulesetOut],
)
def update_rule(
    request: Request, access: Access, ruleset_id: RulesetId, rule_id: RuleId, body: RulePatch
) -> dict[str, Any]:
    """Change a rule: fields not sent keep their value; `position` moves it."""
    store = get_store(request)
    rs = _ruleset(request, access.zone, ruleset_id)
    current = next((r for r in rs.rules if r.id == rule_id), None)
    if current is None:
        raise envelope.not_found(f"rule {rule_id}")
    if body.id is not None and body.id != rule_id:
        raise envelope.invalid("id: a rule's id cannot change")
    checked, problems = _validate(
        access.zone,
        rs.phase,
        _rule_data(body, current),
        rule_id,
        "rule",
        expressions.account_lists(store, access.zone),
    )
    if checked is None:
        raise envelope.invalid(*problems)
    others = [r for r in rs.rules if r.id != rule_id]
    pos = _index(others, body.position, "position")
    return envelope.ok(
        ruleset_json(store.update_rule(access.zone.id, rs.id, rule_id, checked, pos))
    )


@router.delete(
    "/zones/{zone_id}/rulesets/{ruleset_id}/rules/{rule_id}",
    response_model=Envelope[RulesetOut],
)
def delete_rule(
    request: Request, access: Access, ruleset_id: RulesetId, rule_id: RuleId
) -> dict[str, Any]:
    store = get_store(request)
    rs = _ruleset(request, access.zone, ruleset_id)
    try:
        return envelope.ok(ruleset_json(store.delete_rule(access.zone.id, rs.id, rule_id)))
    except NotFound:
        raise envelope.not_found(f"rule {rule_id}") from None

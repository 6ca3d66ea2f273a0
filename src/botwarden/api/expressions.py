"""Rule expressions checked for one zone, at write time: the rules language's own checks
(parse, types), then what only the store knows — that `$name` lists exist in the zone's
account with a matching kind, and that granular scores are used only on enterprise.
Every failure is a RuleSyntaxError, so its message carries the caret."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from botwarden.rules import CompiledRule, RuleSyntaxError, check
from botwarden.rules.ast import Compare, Expr, FieldRef, walk
from botwarden.rules.lists import ASNList, HostnameList, IPList, NamedList
from botwarden.rules.to_sql import SqlFilter, to_sql
from botwarden.rules.types import BYTES, INT, IP
from botwarden.store import Plan, Store, Zone

SCORE_FIELD = "cf.bot_management.score"
_KIND_OF_TYPE = {IP: "ip", INT: "asn", BYTES: "hostname"}

ListValues = Mapping[str, tuple[str, Sequence[str]]]


def named_lists(values: ListValues) -> dict[str, NamedList]:
    """The account's lists as the rules language's NamedList objects."""
    out: dict[str, NamedList] = {}
    for name, (kind, items) in values.items():
        if kind == "ip":
            out[name] = IPList(items)
        elif kind == "asn":
            out[name] = ASNList(items)
        else:
            out[name] = HostnameList(items)
    return out


def check_lists(checked: Expr, text: str, lists: ListValues) -> None:
    for node in walk(checked):
        if isinstance(node, Compare) and node.op == "in_list":
            name = str(node.rhs)
            start = text.find("$" + name, node.span[0], node.span[1] + 1)
            span = (start, start + len(name) + 1) if start >= 0 else node.span
            found = lists.get(name)
            if found is None:
                raise RuleSyntaxError(
                    f"list ${name} does not exist in this account", text, span[0], span[1]
                )
            want = _KIND_OF_TYPE.get(node.lhs.type)
            if want is not None and found[0] != want:
                raise RuleSyntaxError(
                    f"list ${name} holds {found[0]} entries, but this field needs a {want} list",
                    text,
                    span[0],
                    span[1],
                )


def check_plan(rule: CompiledRule, zone: Zone) -> None:
    if zone.plan is Plan.ENTERPRISE:
        return
    for node in walk(rule.checked):
        if isinstance(node, FieldRef) and node.field.name == SCORE_FIELD:
            raise RuleSyntaxError(
                f"granular bot scores ({SCORE_FIELD}) are available on the enterprise plan; "
                f"this zone is on the {zone.plan.value} plan",
                rule.expression,
                node.span[0],
                node.span[1],
            )


def check_rule(rule: CompiledRule, zone: Zone, lists: ListValues) -> None:
    check_lists(rule.checked, rule.expression, lists)
    check_plan(rule, zone)


@functools.lru_cache(maxsize=1024)
def _checked(expression: str) -> Expr:
    # A checked tree is a pure function of the text; reports and dashboard filters repeat
    # the same expressions, and parsing is the costly part of checking one. (Filters are
    # never run in Python, so they skip compile_rule's code generation.)
    return check(expression)


def compile_filter(expression: str, lists: ListValues) -> SqlFilter:
    """An expression that must select stored traffic (feedback, analytics filters): it
    parses and type-checks, its lists exist, and every field it reads is stored by
    analytics. Raises RuleSyntaxError (ValueError for a value SQL cannot carry)."""
    checked = _checked(expression)
    check_lists(checked, expression, lists)
    return to_sql(checked, "duckdb", source=expression, lists=named_lists(lists))


def account_lists(store: Store, zone: Zone) -> ListValues:
    return store.list_values(zone.account_id)

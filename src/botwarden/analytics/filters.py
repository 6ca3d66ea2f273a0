"""Rules-language expressions as analytics filters: the rules compiler's parameterised WHERE
clause (`rules.to_sql`), in the dialect of the backend that runs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botwarden.analytics.base import Params
    from botwarden.rules.lists import NamedList


@dataclass(frozen=True, slots=True)
class Filter:
    """A WHERE-clause body and its parameters (DuckDB: a list bound to $1…; ClickHouse: a
    dict bound to {name:Type})."""

    sql: str
    params: Params
    dialect: str
    expression: str = ""
    fields: tuple[str, ...] = field(default=())


def compile_filter(
    expression: str | None,
    dialect: str,
    *,
    lists: Mapping[str, NamedList] | None = None,
) -> Filter | None:
    """None for no expression; raises `RuleSyntaxError` (with a caret under the fault) for
    an invalid one or one that reads a field analytics does not store."""
    if expression is None or not expression.strip():
        return None
    from botwarden.rules import compile_rule

    compiled = compile_rule(expression).to_sql(dialect, lists)
    return Filter(compiled.sql, compiled.params, dialect, expression, compiled.fields)

"""compile_rule(): rule text → parsed, checked and compiled once, ready to run many times."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botwarden.rules.ast import Expr, fields_used
from botwarden.rules.to_python import Predicate, to_python
from botwarden.rules.typecheck import check

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botwarden.rules.evalctx import RuleInput
    from botwarden.rules.lists import NamedList
    from botwarden.rules.to_sql import SqlFilter


def fingerprint(expression: str) -> str:
    """A stable hash of the expression text (16 hex digits)."""
    return hashlib.sha256(expression.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    expression: str
    checked: Expr = field(repr=False)
    predicate: Predicate = field(repr=False)
    fields: tuple[str, ...]
    fingerprint: str

    def __call__(self, inp: RuleInput) -> bool:
        return self.predicate(inp)

    def to_sql(
        self, dialect: str = "duckdb", lists: Mapping[str, NamedList] | None = None
    ) -> SqlFilter:
        from botwarden.rules.to_sql import to_sql

        return to_sql(self.checked, dialect, source=self.expression, lists=lists)


def compile_rule(expression: str) -> CompiledRule:
    """Parse, type-check and compile a rule expression; raises RuleSyntaxError."""
    checked = check(expression)
    return CompiledRule(
        expression,
        checked,
        to_python(checked),
        tuple(fields_used(checked)),
        fingerprint(expression),
    )

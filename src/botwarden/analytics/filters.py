"""Rules-language expressions as analytics filters: the rules compiler's parameterised WHERE
clause (`rules.to_sql`), in the dialect of the backend that runs it.

On DuckDB, a part of the expression that reads one text column only — `http.request.uri.path
contains "/login"`, `not lower(http.request.uri.path) matches "…"`, any function or
comparison of that one column — can be answered from the column's dictionary instead (a
table of its distinct values and their hashes, kept by the backend with every insert:
`duckdb.DICTIONARIES`). The part is evaluated once per distinct value, in the same
transaction as the query, and becomes `path_h IN (hash, …)` when it accepts at most
`MAX_HASHES` values (else it stays the text predicate): an integer test on a column
the dashboards read anyway, where the original decompresses and searches the text of
every row (the OR of two columns in the benchmark's "text" filter cannot be pushed into
DuckDB's scan, so it is evaluated row by row). The answer is the same: the rules
compiler's SQL never yields NULL for a value that is present (each comparison is wrapped
to be false instead), the dictionary holds every value stored, and the hash is the one
the backend already trusts to tell values apart (top lists group by it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botwarden.analytics.base import Params
    from botwarden.rules.ast import Expr
    from botwarden.rules.lists import NamedList

MAX_HASHES = 4
"""Beyond this many matching values the part stays the text predicate: DuckDB turns an IN
list of five or more constants into a join, which measured slower than the text predicate
on 10M events (a dashboard count with 111 matching paths: 86 against 70 ms CPU), while up
to four stay a plain filter (with the "text" filter's 2 paths: the feedback summary
~20 % less CPU)."""

_PARAM = re.compile(r"\$(\d+)")


@dataclass(frozen=True, slots=True)
class Dictionary:
    """A text column, its hash column in the events table and the table of its distinct
    values (columns named like the events table's: hash column and text column)."""

    column: str
    hash_column: str
    table: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """A part of a DuckDB filter answered by a dictionary: `marker` in the filter's SQL
    stands for it until the query runs (`resolve`)."""

    marker: str
    dictionary: Dictionary
    predicate: str
    """The part's SQL over the text column, with its own parameters ($1…)."""
    params: list[Any]

    @property
    def sql(self) -> str:
        d = self.dictionary
        return (
            f"SELECT {d.hash_column} FROM {d.table} WHERE {self.predicate} LIMIT {MAX_HASHES + 1}"
        )

    def resolve(self, hashes: list[int], params: list[Any]) -> str:
        """The SQL that replaces the marker, given the hashes of the values the part
        accepts; may append to `params` (the query's, bound after the filter's)."""
        if not hashes:
            return "(1 = 0)"
        if len(hashes) <= MAX_HASHES:
            keys = ", ".join(str(int(h)) for h in sorted(hashes))
            return f"({self.dictionary.hash_column} IN ({keys}))"
        offset = len(params)
        params.extend(self.params)
        return f"({_renumber(self.predicate, offset)})"


@dataclass(frozen=True, slots=True)
class Filter:
    """A WHERE-clause body and its parameters (DuckDB: a list bound to $1…; ClickHouse: a
    dict bound to {name:Type}). `lookups`: the parts answered by dictionaries, whose
    markers the backend replaces when it runs the query (`DuckDBBackend.query`)."""

    sql: str
    params: Params
    dialect: str
    expression: str = ""
    fields: tuple[str, ...] = field(default=())
    lookups: tuple[Lookup, ...] = field(default=())
    checked: Expr | None = field(default=None, repr=False, compare=False)
    lists: Mapping[str, NamedList] | None = field(default=None, repr=False, compare=False)

    def with_dictionaries(self, dictionaries: Mapping[str, Dictionary]) -> Filter:
        """This filter with each part that reads one dictionary column only answered
        from the dictionary (DuckDB; itself when no part qualifies)."""
        if self.dialect != "duckdb" or not dictionaries or self.checked is None:
            return self
        if self.lookups:
            return self
        rewritten = _Rewriter(self.expression, self.lists, dictionaries).run(self.checked)
        if rewritten is None:
            return self
        sql, params, lookups = rewritten
        return Filter(
            sql,
            params,
            self.dialect,
            self.expression,
            self.fields,
            lookups,
            self.checked,
            self.lists,
        )


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

    rule = compile_rule(expression)
    compiled = rule.to_sql(dialect, lists)
    return Filter(
        compiled.sql,
        compiled.params,
        dialect,
        expression,
        compiled.fields,
        checked=rule.checked,
        lists=lists,
    )


def _renumber(sql: str, offset: int) -> str:
    """DuckDB placeholders $1… shifted by `offset` (the rules compiler writes every value
    as a placeholder, never as text, so `$` followed by digits is always one)."""
    if not offset:
        return sql
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


class _Rewriter:
    """Compiles a checked tree with each largest part that reads one dictionary column
    (and no other field) replaced by a lookup marker. The boolean structure above those
    parts (and, or, xor, not) is written as `rules.to_sql` writes it."""

    def __init__(
        self,
        expression: str,
        lists: Mapping[str, NamedList] | None,
        dictionaries: Mapping[str, Dictionary],
    ) -> None:
        self.expression = expression
        self.lists = lists
        self.dictionaries = dictionaries
        self.params: list[Any] = []
        self.lookups: list[Lookup] = []

    def run(self, e: Expr) -> tuple[str, list[Any], tuple[Lookup, ...]] | None:
        if not self._has_part(e):
            return None
        sql = self._sql(e)
        return sql, self.params, tuple(self.lookups)

    def _column(self, e: Expr) -> Dictionary | None:
        """The dictionary of the one column `e` reads, when `e` is a scalar boolean that
        reads that column only."""
        from botwarden.rules.ast import FieldRef, walk
        from botwarden.rules.types import BOOL

        if e.type != BOOL:
            return None
        columns = set()
        for n in walk(e):
            if isinstance(n, FieldRef):
                columns.add(n.field.sql_expr("duckdb"))
        if len(columns) != 1:
            return None
        (column,) = columns
        return self.dictionaries.get(column) if column else None

    def _has_part(self, e: Expr) -> bool:
        from botwarden.rules.ast import Logical, Not
        from botwarden.rules.types import BOOL

        if self._column(e) is not None:
            return True
        if isinstance(e, Not) and e.type == BOOL:
            return self._has_part(e.arg)
        if isinstance(e, Logical) and e.type == BOOL:
            return any(self._has_part(i) for i in e.items)
        return False

    def _compile(self, e: Expr) -> tuple[str, list[Any]]:
        from botwarden.rules.to_sql import to_sql

        compiled = to_sql(e, "duckdb", source=self.expression, lists=self.lists)
        assert isinstance(compiled.params, list)
        return compiled.sql, compiled.params

    def _sql(self, e: Expr) -> str:
        from botwarden.rules.ast import Logical, Not
        from botwarden.rules.types import BOOL

        dictionary = self._column(e)
        if dictionary is not None:
            predicate, params = self._compile(e)
            marker = f"/*bw_lookup_{len(self.lookups)}*/"
            self.lookups.append(Lookup(marker, dictionary, predicate, params))
            return marker
        if isinstance(e, Not) and e.type == BOOL:
            return f"(NOT {self._sql(e.arg)})"
        if isinstance(e, Logical) and e.type == BOOL:
            from botwarden.rules.to_sql import join_logical

            return join_logical(e.op, [self._sql(i) for i in e.items])
        sql, params = self._compile(e)
        sql = _renumber(sql, len(self.params))
        self.params.extend(params)
        return sql

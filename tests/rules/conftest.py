"""Analytics backends for the SQL tests: DuckDB in memory and ClickHouse in process (chdb)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pytest

from botwarden.rules import CompiledRule, RuleInput
from botwarden.rules.lists import NamedList
from botwarden.testing.events_table import (
    clickhouse_create_table,
    clickhouse_insert_sql,
    duckdb_create_table,
    event_from,
    insert_duckdb,
)


class Backends:
    """The same events in DuckDB and ClickHouse; `select` runs a rule in all three places."""

    def __init__(self) -> None:
        import chdb.session

        self.duck = duckdb.connect()
        self.duck.execute(duckdb_create_table())
        session: Any = chdb.session
        self.ch: Any = session.Session()
        self.ch.query(clickhouse_create_table(engine="Memory"))
        self.inputs: list[RuleInput] = []

    def load(self, inputs: Sequence[RuleInput]) -> None:
        self.inputs = list(inputs)
        rows = []
        for i, inp in enumerate(self.inputs):
            row = event_from(inp.ctx, inp.bm, status=inp.response_status)
            row["request_id"] = str(i)
            rows.append(row)
        self.duck.execute("DELETE FROM events")
        insert_duckdb(self.duck, rows)
        self.ch.query("TRUNCATE TABLE events")
        if rows:
            self.ch.query(clickhouse_insert_sql(rows))

    def python(self, rule: CompiledRule) -> list[int]:
        return [i for i, inp in enumerate(self.inputs) if rule(inp)]

    def duckdb(self, rule: CompiledRule, lists: Mapping[str, NamedList] | None = None) -> list[int]:
        f = rule.to_sql("duckdb", lists)
        q = f"SELECT request_id FROM events WHERE {f.sql}"
        return sorted(int(r[0]) for r in self.duck.execute(q, f.params).fetchall())

    def clickhouse(
        self, rule: CompiledRule, lists: Mapping[str, NamedList] | None = None
    ) -> list[int]:
        f = rule.to_sql("clickhouse", lists)
        q = f"SELECT request_id FROM events WHERE {f.sql}"
        out: Any = self.ch.query(q, "JSONCompactEachRow", params=f.clickhouse_text_params())
        text = out.bytes().decode()
        return sorted(int(json.loads(line)[0]) for line in text.splitlines() if line.strip())

    def select(
        self, rule: CompiledRule, lists: Mapping[str, NamedList] | None = None
    ) -> tuple[list[int], list[int], list[int]]:
        return self.python(rule), self.duckdb(rule, lists), self.clickhouse(rule, lists)

    def close(self) -> None:
        self.duck.close()
        self.ch.cleanup()


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    b = Backends()
    yield b
    b.close()

"""An offline `botwarden.bots.Resolver`: DNS answers from a dict, every question recorded."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence


class FakeResolver:
    """`records` maps an address to its PTR names and a name to its addresses:

        FakeResolver({
            "66.249.66.1": ["crawl-66-249-66-1.googlebot.com."],
            "crawl-66-249-66-1.googlebot.com": ["66.249.66.1"],
        })

    A key in `timeouts` answers [] as a real resolver does when it times out; a key in
    `errors` raises OSError (a resolver breaking its contract, which callers survive).
    """

    def __init__(
        self,
        records: Mapping[str, Sequence[str]] | None = None,
        *,
        timeouts: Iterable[str] = (),
        errors: Iterable[str] = (),
    ) -> None:
        self.records = {_key(k): list(v) for k, v in (records or {}).items()}
        self.timeouts = {_key(k) for k in timeouts}
        self.errors = {_key(k) for k in errors}
        self.calls: list[tuple[str, str]] = []

    def reverse(self, ip: str) -> list[str]:
        self.calls.append(("reverse", ip))
        return self._answer(ip)

    def forward(self, name: str) -> list[str]:
        self.calls.append(("forward", name))
        return self._answer(name)

    def _answer(self, question: str) -> list[str]:
        key = _key(question)
        if key in self.errors:
            raise OSError(f"fake resolver: {question} failed")
        if key in self.timeouts:
            return []
        return list(self.records.get(key, ()))


def _key(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.rstrip(".").lower()

"""RuleInput: what a compiled rule reads — the request, its bot-management result, the
response status (rate-limiting counting expressions only) and the account's named lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botwarden.result import BotManagement

if TYPE_CHECKING:
    from botwarden.request import RequestContext
    from botwarden.rules.lists import NamedList

_EMPTY_LISTS: Mapping[str, NamedList] = {}


class RuleInput:
    """One request as rules see it. Cheap to build: derived values (the header map of
    lists, the cookie map…) are computed on first use and kept in `cache`."""

    __slots__ = ("bm", "cache", "ctx", "lists", "response_status")

    def __init__(
        self,
        ctx: RequestContext,
        bm: BotManagement | None = None,
        *,
        response_status: int | None = None,
        lists: Mapping[str, NamedList] | None = None,
    ) -> None:
        self.ctx = ctx
        self.bm = bm if bm is not None else BotManagement()
        self.response_status = response_status
        self.lists = lists if lists is not None else _EMPTY_LISTS
        self.cache: dict[str, Any] = {}

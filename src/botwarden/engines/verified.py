"""The verified-bot engine: a good bot that proves who it is gets a final verdict.

A claim that fails its check is not judged here: the heuristics engine reports the
forgery, asking the same (cached) `BotDirectory.claim()` and `verify()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botwarden.engines.base import Verdict
from botwarden.result import ScoreSource

if TYPE_CHECKING:
    from botwarden.bots import BotDirectory, GoodBot
    from botwarden.request import RequestContext
    from botwarden.state.base import StateStore


class VerifiedBotEngine:
    name = "verified_bot"

    def __init__(self, directory: BotDirectory | None = None) -> None:
        if directory is None:
            from botwarden.bots import BotDirectory

            directory = BotDirectory.default()
        self.directory = directory
        self._verdicts: dict[str, Verdict] = {}

    def evaluate(self, ctx: RequestContext, state: StateStore | None) -> Verdict | None:
        ua = ctx.user_agent
        if not ua:
            return None
        bot = self.directory.claim(ua)
        if bot is None or self.directory.verify(bot, ctx.client_ip) is not True:
            return None
        return self._verdict(bot)

    def _verdict(self, bot: GoodBot) -> Verdict:
        # Verdicts are immutable: one per bot, not one per request.
        found = self._verdicts.get(bot.slug)
        if found is None:
            found = self._verdicts[bot.slug] = Verdict(
                score=1,
                source=ScoreSource.VERIFIED_BOT,
                final=True,
                verified_bot_name=bot.name,
                verified_bot_category=bot.category,
            )
        return found

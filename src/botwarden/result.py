"""The BotManagement result: what every entry point reports for one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ScoreSource(StrEnum):
    """Which engine decided the score (Cloudflare's names)."""

    HEURISTICS = "Heuristics"
    MACHINE_LEARNING = "Machine Learning"
    BEHAVIORAL_ANALYSIS = "Behavioral Analysis"
    JS_FINGERPRINTING = "JS Fingerprinting"
    VERIFIED_BOT = "Verified Bot"
    NOT_COMPUTED = "Not Computed"


class Grouping(StrEnum):
    """Bot Analytics groupings: automated = 1, likely automated = 2-29, likely human = 30-99."""

    AUTOMATED = "automated"
    LIKELY_AUTOMATED = "likely_automated"
    LIKELY_HUMAN = "likely_human"
    VERIFIED_BOT = "verified_bot"
    NOT_COMPUTED = "not_computed"


class JSDetection(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    MISSING = "missing"


def grouping_for(score: int, verified_bot: bool = False) -> Grouping:
    """Map a score to its grouping; verified bots form their own group."""
    if verified_bot:
        return Grouping.VERIFIED_BOT
    if score <= 0:
        return Grouping.NOT_COMPUTED
    if score == 1:
        return Grouping.AUTOMATED
    if score < 30:
        return Grouping.LIKELY_AUTOMATED
    return Grouping.LIKELY_HUMAN


@dataclass(slots=True)
class BotManagement:
    """The result attached to a request, named after Cloudflare's `cf.bot_management.*`."""

    score: int = 0
    score_src: ScoreSource = ScoreSource.NOT_COMPUTED
    verified_bot: bool = False
    verified_bot_name: str | None = None
    verified_bot_category: str | None = None
    ja3_hash: str | None = None
    ja4: str | None = None
    static_resource: bool = False
    js_detection: JSDetection = JSDetection.MISSING
    detection_ids: list[int] = field(default_factory=list)
    corporate_proxy: bool = False
    model_version: str | None = None
    timings_us: dict[str, float] = field(default_factory=dict)

    @property
    def grouping(self) -> Grouping:
        return grouping_for(self.score, self.verified_bot)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "score_src": self.score_src.value,
            "grouping": self.grouping.value,
            "verified_bot": self.verified_bot,
            "verified_bot_name": self.verified_bot_name,
            "verified_bot_category": self.verified_bot_category,
            "ja3_hash": self.ja3_hash,
            "ja4": self.ja4,
            "static_resource": self.static_resource,
            "js_detection": self.js_detection.value,
            "detection_ids": list(self.detection_ids),
            "corporate_proxy": self.corporate_proxy,
            "model_version": self.model_version,
            "timings_us": {k: round(v, 2) for k, v in self.timings_us.items()},
        }

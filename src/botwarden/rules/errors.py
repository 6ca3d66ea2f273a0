"""RuleSyntaxError: every problem with a rule's text, shown as the line with a caret."""

from __future__ import annotations

from typing import Any

from botwarden.errors import BotwardenError


class RuleSyntaxError(BotwardenError):
    """A rule expression that cannot be parsed, type-checked or compiled.

    `line` and `column` are 1-based; `str(err)` shows the message, the offending line of
    the expression and a caret under the span of the problem.
    """

    def __init__(self, message: str, source: str, start: int, end: int | None = None) -> None:
        self.message = message
        self.source = source
        start = max(0, min(start, len(source)))
        end = start + 1 if end is None or end <= start else min(end, len(source))
        self.start = start
        self.end = end
        line_start = source.rfind("\n", 0, start) + 1
        line_end = source.find("\n", start)
        if line_end == -1:
            line_end = len(source)
        self.line = source.count("\n", 0, start) + 1
        self.column = start - line_start + 1
        self.source_line = source[line_start:line_end]
        width = max(1, min(end, line_end) - start)
        self.caret = " " * (start - line_start) + "^" * width
        super().__init__(str(self))

    def __reduce__(self) -> tuple[type[RuleSyntaxError], tuple[str, str, int, int]]:
        # Picklable (the analytics store answers over a socket, analytics/remote.py).
        return (type(self), (self.message, self.source, self.start, self.end))

    def __str__(self) -> str:
        return (
            f"{self.message} (line {self.line}, column {self.column})\n"
            f"{self.source_line}\n{self.caret}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "start": self.start,
            "end": self.end,
            "text": str(self),
        }

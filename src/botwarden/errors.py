"""The few exceptions a user of Botwarden ever sees."""

from __future__ import annotations


class BotwardenError(Exception):
    """Base class: every error Botwarden raises on purpose derives from it."""


class ConfigError(BotwardenError):
    """A configuration file or setting is invalid; the message lists every problem."""


class InputError(BotwardenError):
    """A request record, log line or API body cannot be read; the message says why."""


class ClientHelloError(InputError):
    """Bytes that are not a well-formed TLS ClientHello; the message names the fault."""


def __getattr__(name: str) -> type[BotwardenError]:
    # RuleSyntaxError lives with the rules language; importing it here lazily keeps
    # `botwarden.errors` free of the parser's import cost and of an import cycle.
    if name == "RuleSyntaxError":
        from botwarden.rules.errors import RuleSyntaxError

        return RuleSyntaxError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

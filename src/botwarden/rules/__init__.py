"""The Cloudflare Rules language: parse → type check against the scheme → a Python
predicate for the edge or a parameterised SQL WHERE clause for analytics.

    rule = compile_rule('cf.bot_management.score lt 30 and not cf.bot_management.verified_bot')
    rule(RuleInput(ctx, bm))                    # -> bool
    rule.to_sql("duckdb")                       # -> SqlFilter(sql, params)
"""

from __future__ import annotations

from botwarden.rules.compiler import CompiledRule, compile_rule, fingerprint
from botwarden.rules.errors import RuleSyntaxError
from botwarden.rules.evalctx import RuleInput
from botwarden.rules.typecheck import check

__all__ = ["CompiledRule", "RuleInput", "RuleSyntaxError", "check", "compile_rule", "fingerprint"]

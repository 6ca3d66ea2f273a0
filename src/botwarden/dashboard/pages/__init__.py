"""The dashboard's pages: one module per page, each with a `router`; `PAGES` is the
registry `app.create_dashboard` includes, in order."""

from __future__ import annotations

from types import ModuleType

from botwarden.dashboard.pages import analytics, feedback, home, models, rules, settings, signin

PAGES: list[ModuleType] = [signin, home, analytics, rules, settings, feedback, models]

"""The dashboard: Jinja2 templates and htmx, served by the API process under `/dashboard`
(`api.app.create_app` mounts it; `/` redirects there). htmx and uPlot are vendored in
`static/vendor/` — no build step.

Layout
    app.py         create_dashboard(): the sub-application (static files, pages, errors,
                   security headers); it shares the API app's `state` (store, analytics
                   source, retention), so pages call the API's own route functions
    sessions.py    the signed session cookie (user id + session epoch + CSRF nonce)
    deps.py        SignedIn and ZonePage: the dependencies every page uses (sign-in,
                   CSRF check on every POST, the zone visible to the user's accounts)
    templating.py  render(): a template with the base context (user, nav, CSRF token)
    nav.py         NAV: the navigation of base.html, one entry per page
    pages/         one module per page, listed in pages/__init__.py: PAGES
    templates/     base.html, then <page>.html and its htmx fragments (_<page>_*.html)
    static/        dashboard.css, dashboard.js (draws every [data-chart]), vendor/

How to add a page (say Rules, at /dashboard/zones/{zone_id}/rules)

1. `pages/rules.py`::

       router = APIRouter()

       @router.get("/zones/{zone_id}/rules", response_class=HTMLResponse)
       def rules_page(request: Request, page: ZonePage) -> HTMLResponse:
           return render(request, "rules.html", {"zone": page.zone, "nav_active": "rules"})

       @router.post("/zones/{zone_id}/rules")      # CSRF is checked by ZonePage
       def create_rule(request: Request, page: ZonePage, ...) -> HTMLResponse: ...

   `page.access` is the API's `ZoneAccess` for the signed-in user, so a page can call
   the API's route functions (`botwarden.api.routes.rulesets.…`) exactly as a client's
   request would run them; catch `APIError` and show its messages (`errors_of()`).
2. `templates/rules.html`: `{% extends "base.html" %}` and fill `{% block content %}`;
   forms carry `{{ csrf_field() }}` (htmx requests send the token in a header already).
3. Add the module to `PAGES` in `pages/__init__.py`; the nav entry (`nav.py`) with the
   same key as `nav_active` already exists for Rules, Settings, Models and Feedback.
4. Tests in tests/dashboard/: `tests/dashboard/conftest.py` has a live server, a signed-in
   httpx client and a signed-in Chromium page.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
MOUNT_PATH = "/dashboard"

__all__ = ["MOUNT_PATH", "STATIC_DIR", "TEMPLATES_DIR"]

"""Models: the model versions with their metrics (human false-positive rate, bot recall,
recall per level of sophistication, training rows, parent, the feedback reports a version
learned from) and the plots of their evaluation report, with promote and roll back for
administrators — through the API's model route functions (and so through
`feedback.promotion.ModelControl`)."""

from __future__ import annotations

import json
import re
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from botwarden.api.envelope import APIError
from botwarden.api.routes import models as api_models
from botwarden.dashboard.deps import PageNotFound, SignedIn, Viewer, store_of
from botwarden.dashboard.templating import base_path, errors_of, render
from botwarden.errors import ConfigError
from botwarden.store import NotFound

router = APIRouter()

Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
PlotName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}\.png$")]
EVAL_DIRS = ("eval", "report")  # `botwarden model evaluate` writes eval/; the base build report/
LEVELS = {
    "0": "not automated / good bot",
    "1": "declared library or tool",
    "2": "library spoofing a browser",
    "3": "headless browser",
    "4": "stealth",
}
DONE = {"promote": "Promoted", "rollback": "Rolled back"}
_PLOT_TITLES = {
    "roc": "ROC curve",
    "scores": "Score histogram by class",
    "calibration": "Calibration",
}


def _registry(request: Request) -> Any:
    reg = getattr(request.app.state, "registry", None)
    if reg is None:
        from botwarden.engines.ml import default_registry

        reg = default_registry()
    return reg


def _eval_dir(reg: Any, version: str) -> FilePath | None:
    if reg is None:
        return None
    try:
        root: FilePath = reg.directory(version)
    except ConfigError:
        return None
    for name in EVAL_DIRS:
        d = root / name
        if d.is_dir():
            return d
    return None


def _evaluation(d: FilePath | None) -> dict[str, Any]:
    """The evaluation report's figures and plot names (empty: not evaluated)."""
    if d is None:
        return {}
    doc: dict[str, Any] = {}
    for f in sorted(d.glob("*.json")):
        try:
            loaded = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict) and "views" in loaded:
            doc = loaded
            break
    overall = doc.get("views", {}).get("model", {}).get("overall", {})
    levels = doc.get("views", {}).get("model", {}).get("by_sophistication", {})
    plots = [
        (p.name, _PLOT_TITLES.get(p.stem.rsplit("_", 1)[-1], p.stem))
        for p in sorted(d.glob("*.png"))
        if re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.png", p.name)
    ]
    return {
        "overall": overall,
        "levels": [(k, LEVELS.get(k, k), v) for k, v in sorted(levels.items()) if k in LEVELS],
        "rows": doc.get("data", {}).get("rows"),
        "auc": doc.get("auc"),
        "plots": plots,
    }


def _reports(request: Request, viewer: Viewer, ids: tuple[str, ...]) -> dict[str, Any]:
    """The reports a version learned from that are in the viewer's zones, as (zone id,
    report id) for a link, and how many others (other accounts' reports stay unnamed)."""
    store = store_of(request)
    mine: list[tuple[str, str]] = []
    for r in store.feedback_by_ids(ids) if ids else []:
        try:
            zone = store.get_zone(r.zone_id)
        except NotFound:
            continue
        if zone.account_id in viewer.user.account_ids:
            mine.append((zone.id, r.id))
    return {"mine": sorted(mine), "others": len(ids) - len(mine)}


def _page(
    request: Request,
    viewer: Viewer,
    *,
    errors: list[str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    listed = api_models.list_models(request, viewer.principal, 1, 100)["result"]
    store = store_of(request)
    reg = _registry(request)
    versions = []
    for row in listed:
        m = store.get_model(row["version"])
        versions.append(
            {
                **row,
                "parent": m.parent,
                "state": m.state,
                "feedback_reports": _reports(request, viewer, m.feedback_reports),
                "eval": _evaluation(_eval_dir(reg, m.version)),
            }
        )
    return render(
        request,
        "models.html",
        {
            "nav_active": "models",
            "versions": versions,
            "is_admin": viewer.user.is_admin,
            "registry": reg is not None,
            "errors": errors or [],
            "done": DONE.get(done or ""),
            "history": list(reg.doc.get("history", [])) if reg is not None else [],
        },
        status_code=status_code,
    )


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, viewer: SignedIn, done: str | None = None) -> HTMLResponse:
    return _page(request, viewer, done=done)


@router.get("/models/{version}/plots/{name}")
def model_plot(request: Request, viewer: SignedIn, version: Version, name: PlotName) -> Response:
    """A PNG of the version's evaluation report: only a file directly in its report
    directory, by a plain name (the path pattern leaves no way out of it)."""
    d = _eval_dir(_registry(request), version)
    if d is None:
        raise PageNotFound(f"evaluation of model {version}")
    path = (d / name).resolve()
    if path.parent != d.resolve() or not path.is_file():
        raise PageNotFound(f"plot {name} of model {version}")
    return FileResponse(
        path, media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )


def _after(request: Request, action: str) -> RedirectResponse:
    return RedirectResponse(f"{base_path(request)}/models?done={action}", status_code=303)


@router.post("/models/rollback", response_class=HTMLResponse)
def rollback(request: Request, viewer: SignedIn) -> Response:
    try:
        api_models.rollback_model(request, viewer.principal)
    except APIError as exc:
        return _page(request, viewer, errors=errors_of(exc), status_code=exc.status)
    return _after(request, "rollback")


@router.post("/models/{version}/promote", response_class=HTMLResponse)
def promote(request: Request, viewer: SignedIn, version: Version) -> Response:
    try:
        api_models.promote_model(request, viewer.principal, version)
    except APIError as exc:
        return _page(request, viewer, errors=errors_of(exc), status_code=exc.status)
    return _after(request, "promote")

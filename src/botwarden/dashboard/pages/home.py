"""The zones of the signed-in user's accounts, each linking to its Bot Analytics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from botwarden.dashboard.deps import SignedIn, store_of
from botwarden.dashboard.templating import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def zones_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    zones, total = store_of(request).list_zones(
        account_ids=viewer.user.account_ids, within_accounts=viewer.user.account_ids,
        per_page=500,
    )  # fmt: skip
    return render(request, "zones.html", {"zones": zones, "total": total,
                                          "nav_active": "zones"})  # fmt: skip

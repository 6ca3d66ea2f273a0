"""Account lists (`/accounts/{account_id}/rules/lists`): IP, ASN and host-name lists that
rules name as `$name`. Item changes are applied at once; the operation ids they answer
(Cloudflare's bulk operations) report "completed"."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from botwarden.api import envelope
from botwarden.api.auth import AccountAccess, account_access, get_store
from botwarden.api.schemas import (
    ZONE_ID,
    Deleted,
    Envelope,
    ItemsDelete,
    ListIn,
    ListItemIn,
    ListItemOut,
    ListOut,
    ListUpdate,
    Operation,
    OperationStatus,
)
from botwarden.store import Conflict, ListItem, NamedListRecord, NotFound, Permission
from botwarden.store.repo import new_id

router = APIRouter(tags=["lists"])
Access = Annotated[AccountAccess, account_access(Permission.FIREWALL_EDIT)]
ListId = Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")]
_HOST = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
MAX_ITEMS = 10_000


class Operations:
    """Recent operation ids (bounded) so `bulk_operations/{id}` can answer for them."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.done: OrderedDict[str, tuple[str, datetime]] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, account_id: str) -> str:
        op = new_id()
        with self.lock:
            self.done[op] = (account_id, datetime.now(UTC))
            while len(self.done) > self.size:
                self.done.popitem(last=False)
        return op

    def get(self, account_id: str, op: str) -> datetime | None:
        with self.lock:
            found = self.done.get(op)
        return found[1] if found is not None and found[0] == account_id else None


def _ops(request: Request) -> Operations:
    ops = getattr(request.app.state, "list_operations", None)
    if ops is None:
        ops = request.app.state.list_operations = Operations()
    assert isinstance(ops, Operations)
    return ops


def list_json(r: NamedListRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "description": r.description,
        "num_items": r.num_items,
        "num_referencing_filters": r.num_referencing_filters,
        "created_on": r.created_on,
        "modified_on": r.modified_on,
    }


def item_json(kind: str, item: ListItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "comment": item.comment,
        "created_on": item.created_on,
        "modified_on": item.modified_on,
    }
    if kind == "ip":
        out["ip"] = item.value
    elif kind == "asn":
        out["asn"] = int(item.value)
    else:
        out["hostname"] = {"url_hostname": item.value}
    return out


def _item_value(kind: str, item: ListItemIn, label: str) -> tuple[str | None, str | None]:
    """(normalised value, None) or (None, problem)."""
    given = [k for k in ("ip", "asn", "hostname") if getattr(item, k) is not None]
    if given != [kind]:
        return None, f"{label}: a {kind} list takes items with exactly the field {kind!r}"
    if kind == "ip":
        assert item.ip is not None
        try:
            net = ipaddress.ip_network(item.ip.strip(), strict=False)
        except ValueError:
            return None, f"{label}.ip: {item.ip!r} is not an IP address or CIDR network"
        full = net.max_prefixlen == net.prefixlen
        return (str(net.network_address) if full else str(net)), None
    if kind == "asn":
        return str(item.asn), None
    assert item.hostname is not None
    host = item.hostname.url_hostname.strip().lower().rstrip(".")
    if not _HOST.fullmatch(host):
        return None, f"{label}.hostname.url_hostname: {host!r} is not a host name"
    return host, None


def _list(request: Request, access: AccountAccess, list_id: str) -> NamedListRecord:
    try:
        return get_store(request).get_list(access.account_id, list_id)
    except NotFound:
        raise envelope.not_found(f"list {list_id}") from None


@router.get("/accounts/{account_id}/rules/lists", response_model=Envelope[list[ListOut]])
def get_lists(request: Request, access: Access) -> dict[str, Any]:
    rows = [list_json(r) for r in get_store(request).list_lists(access.account_id)]
    return envelope.ok(rows, envelope.page_info(1, max(1, len(rows)), len(rows), len(rows)))


@router.post("/accounts/{account_id}/rules/lists", response_model=Envelope[ListOut])
def create_list(request: Request, access: Access, body: ListIn) -> dict[str, Any]:
    try:
        r = get_store(request).create_list(
            access.account_id, body.name, body.kind, body.description
        )
    except Conflict:
        raise envelope.APIError(
            409, envelope.CONFLICT, f"name: a list named {body.name} already exists"
        ) from None
    return envelope.ok(list_json(r))


@router.get("/accounts/{account_id}/rules/lists/{list_id}", response_model=Envelope[ListOut])
def get_list(request: Request, access: Access, list_id: ListId) -> dict[str, Any]:
    return envelope.ok(list_json(_list(request, access, list_id)))


@router.put("/accounts/{account_id}/rules/lists/{list_id}", response_model=Envelope[ListOut])
def update_list(
    request: Request, access: Access, list_id: ListId, body: ListUpdate
) -> dict[str, Any]:
    _list(request, access, list_id)
    return envelope.ok(
        list_json(get_store(request).update_list(access.account_id, list_id, body.description))
    )


@router.delete("/accounts/{account_id}/rules/lists/{list_id}", response_model=Envelope[Deleted])
def delete_list(request: Request, access: Access, list_id: ListId) -> dict[str, Any]:
    _list(request, access, list_id)
    try:
        get_store(request).delete_list(access.account_id, list_id)
    except Conflict as exc:
        raise envelope.APIError(409, envelope.CONFLICT, str(exc)) from None
    return envelope.ok({"id": list_id})


@router.get(
    "/accounts/{account_id}/rules/lists/{list_id}/items",
    response_model=Envelope[list[ListItemOut]],
)
def get_items(
    request: Request,
    access: Access,
    list_id: ListId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    lst = _list(request, access, list_id)
    items, total = get_store(request).list_items(
        access.account_id, list_id, page=page, per_page=per_page
    )
    rows = [item_json(lst.kind, i) for i in items]
    return envelope.ok(rows, envelope.page_info(page, per_page, len(rows), total))


def _write_items(
    request: Request, access: AccountAccess, list_id: str, body: list[ListItemIn], replace: bool
) -> dict[str, Any]:
    lst = _list(request, access, list_id)
    if len(body) > MAX_ITEMS:
        raise envelope.invalid(f"request body: at most {MAX_ITEMS} items at once")
    values: list[tuple[str, str]] = []
    problems: list[str] = []
    for i, item in enumerate(body):
        value, problem = _item_value(lst.kind, item, f"[{i}]")
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            values.append((value, item.comment))
    if problems:
        raise envelope.invalid(*problems[:50])
    get_store(request).add_list_items(access.account_id, list_id, values, replace_all=replace)
    return envelope.ok({"operation_id": _ops(request).add(access.account_id)})


@router.post(
    "/accounts/{account_id}/rules/lists/{list_id}/items", response_model=Envelope[Operation]
)
def add_items(
    request: Request, access: Access, list_id: ListId, body: list[ListItemIn]
) -> dict[str, Any]:
    """Add items (an item already in the list gets the new comment)."""
    return _write_items(request, access, list_id, body, replace=False)


@router.put(
    "/accounts/{account_id}/rules/lists/{list_id}/items", response_model=Envelope[Operation]
)
def replace_items(
    request: Request, access: Access, list_id: ListId, body: list[ListItemIn]
) -> dict[str, Any]:
    """Make these the list's only items."""
    return _write_items(request, access, list_id, body, replace=True)


@router.delete(
    "/accounts/{account_id}/rules/lists/{list_id}/items", response_model=Envelope[Operation]
)
def delete_items(
    request: Request, access: Access, list_id: ListId, body: ItemsDelete
) -> dict[str, Any]:
    _list(request, access, list_id)
    get_store(request).delete_list_items(access.account_id, list_id, [i.id for i in body.items])
    return envelope.ok({"operation_id": _ops(request).add(access.account_id)})


@router.get(
    "/accounts/{account_id}/rules/lists/bulk_operations/{operation_id}",
    response_model=Envelope[OperationStatus],
)
def get_operation(
    request: Request,
    access: Access,
    operation_id: Annotated[str, Path(pattern=ZONE_ID, description="32 hex digits")],
) -> dict[str, Any]:
    done = _ops(request).get(access.account_id, operation_id)
    if done is None:
        raise envelope.not_found(f"operation {operation_id}")
    return envelope.ok({"id": operation_id, "status": "completed", "completed": done})

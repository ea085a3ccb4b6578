"""The store view of one location: the pickup queue by promise with a countdown and the
associates' steps as buttons, curbside arrivals, returns received today and the
attention list. Each read and each button is the API's own operation for the signed-in
key (ui/calls.py): a register bound to S1 gets S2's queue refused as /v1 refuses it."""

import datetime as dt
import zoneinfo
from typing import Any, Final
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from orders.model import STEP_FROM, State, Step
from ui import web
from ui.calls import Answer, allows, call
from ui.session import Session

RETURN_PAGES_MAX: Final = 5  # pages of returns read for today's (oldest first, 100 each)
RETURNS_PAGE: Final = 100
STEP_LABELS: Final = {
    Step.picking: "Start picking",
    Step.staged: "Staged",
    Step.ready: "Ready",
    Step.arrived: "Arrived",
    Step.picked_up: "Picked up",
}


def next_steps(order: dict[str, Any]) -> list[tuple[str, str]]:
    """The steps the order's state allows now, as (step, label); arrival only curbside."""
    state = State(order["state"])
    steps = [s for s in Step if state in STEP_FROM[s]]
    if order["method"] != "curbside":
        steps = [s for s in steps if s is not Step.arrived]
    return [(s.value, STEP_LABELS[s]) for s in steps]


async def _store(request: Request, signed: Session) -> Response:
    """The key's own store, or a choice of the catalog's pickup stores."""
    bound = signed.principal.locations
    if bound is not None and len(bound) == 1:
        return RedirectResponse(f"/ui/store/{next(iter(bound))}", 303, web.HEADERS)
    answer = await call(request, signed.principal, "listLocations", query={"limit": 100})
    stores = [
        item
        for item in (answer.body["items"] if answer.ok else [])
        if item["pickup"] and (bound is None or item["id"] in bound)
    ]
    return web.render(request, "store_pick.html", signed, stores=stores)


async def _returns_today(
    request: Request, signed: Session, location: str, zone: str
) -> list[dict[str, Any]]:
    local = zoneinfo.ZoneInfo(zone)
    today = dt.datetime.now(local).date()
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(RETURN_PAGES_MAX):
        query = {"location": location, "limit": RETURNS_PAGE}
        answer = await call(
            request, signed.principal, "listReturns", query={**query, "cursor": cursor}
        )
        if not answer.ok:
            return []
        for item in answer.body["items"]:
            at = item.get("return_received_at")
            if at and dt.datetime.fromisoformat(at).astimezone(local).date() == today:
                found.append(item)
        cursor = answer.body.get("next_cursor") or ""
        if not cursor:
            break
    return found


async def _attention(request: Request, signed: Session, location: str) -> list[dict[str, Any]]:
    if not allows(signed.principal, "listAttention"):
        return []
    answer = await call(request, signed.principal, "listAttention")
    items = answer.body["items"] if answer.ok else []
    return [item for item in items if item["location"] == location]


async def _view(request: Request, signed: Session) -> Response:
    location = request.path_params["location"]
    pickups = await call(request, signed.principal, "listStorePickups", path={"location": location})
    if not pickups.ok:
        return web.error(request, signed, pickups.status, pickups.detail)
    place = await call(request, signed.principal, "getLocation", path={"location": location})
    store = place.body if place.ok else {"id": location, "name": location, "time_zone": "UTC"}
    orders = pickups.body["items"]
    for order in orders:
        order["next_steps"] = next_steps(order)
    return web.render(
        request,
        "store.html",
        signed,
        store=store,
        queue=[o for o in orders if o["state"] != "arrived"],
        arrivals=[o for o in orders if o["state"] == "arrived"],
        returns=await _returns_today(request, signed, location, store["time_zone"]),
        attention=await _attention(request, signed, location),
        can_step=allows(signed.principal, "recordPickupStep"),
        can_resolve=allows(signed.principal, "resolveAttention"),
    )


def _said(answer: Answer, done: str) -> str:
    return done if answer.ok else f"Refused ({answer.status}): {answer.detail}"


async def _step(request: Request, signed: Session, form: FormData) -> Response:
    location, order_id = request.path_params["location"], request.path_params["order_id"]
    step = request.path_params["step"]
    bay = form.get("bay")
    body = {"bay": bay} if isinstance(bay, str) and bay.strip() else None
    answer = await call(
        request,
        signed.principal,
        "recordPickupStep",
        path={"order_id": order_id, "step": step},
        body=body,
    )
    state = answer.body.get("state") if answer.ok else ""
    return web.back(f"/ui/store/{quote(location)}", _said(answer, f"Order {order_id}: {state}."))


async def _resolve(request: Request, signed: Session, form: FormData) -> Response:
    location = request.path_params["location"]
    body = {
        "reservation_id": str(form.get("reservation_id", "")),
        "sku": str(form.get("sku", "")),
        "location": location,
        "note": str(form.get("note", "")).strip() or "resolved",
    }
    answer = await call(request, signed.principal, "resolveAttention", body=body)
    return web.back(f"/ui/store/{quote(location)}", _said(answer, "Attention item resolved."))


store = web.signed_in(_store)
view = web.signed_in(_view)
step = web.action(_step)
resolve = web.action(_resolve)

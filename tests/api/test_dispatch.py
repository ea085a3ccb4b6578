"""The fast dispatch matches paths exactly as the Starlette routes FastAPI holds."""

import pytest
from starlette.routing import Match, Route

from api.app import OPS
from api.dispatch import _match, _template

SAMPLES = [
    "/v1/availability/SKU-1",
    "/v1/availability/SKU-1/promise",
    "/v1/availability/SKU-1/nearby",
    "/v1/availability/query",
    "/v1/availability/",
    "/v1/availability//promise",
    "/v1/reservations/r-1",
    "/v1/reservations/r-1/commit",
    "/v1/reservations/r-1/commit/",
    "/v1/reservations/a/b/commit",
    "/v1/stock/positions/S1/SKU-1",
    "/v1/pos/devices/till-1/events",
    "/v1/availability/SKU 1",
]


@pytest.mark.parametrize("path", SAMPLES)
def test_every_template_matches_as_starlette_does(path: str) -> None:
    for op in OPS:
        if "{" not in op.path:
            continue
        route = Route(op.path, lambda request: None, methods=[op.method])
        asgi_scope = {"type": "http", "path": path, "method": op.method, "root_path": ""}
        match, child = route.matches(asgi_scope)
        method, segments = _template(op)
        ours = _match(segments, path.split("/")) if method == op.method else None
        expected = child.get("path_params") if match is Match.FULL else None
        assert ours == expected, (op.path, path)

"""The served access log: each request one JSON line, written to stdout in batches."""

import io
import json
import logging

from api.middleware import KEY_ID, _log_access
from api.ops import REQUEST_ID
from cli.access_lines import ACCESS_LOG_BATCH_LINES, LineBatchHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_leave_in_one_write_per_batch_and_each_is_json() -> None:
    stream = CountingStream()
    handler = LineBatchHandler(stream)
    logger = logging.getLogger("atp.access.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for i in range(ACCESS_LOG_BATCH_LINES + 3):
            logger.info('{"n":%d}', i)
        assert stream.writes == 1  # the full batch
        handler.flush()  # what the app's one-second flush does
        assert stream.writes == 2
        handler.flush()
        assert stream.writes == 2  # nothing left: no empty write
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(ACCESS_LOG_BATCH_LINES + 3))


def test_the_templated_line_is_the_json_it_claims() -> None:
    """The line is written by a template, not json.dumps: it must still parse, with or
    without a key."""
    handler = LineBatchHandler(io.StringIO())
    access = logging.getLogger("atp.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        asgi_scope = {"method": "POST", REQUEST_ID: "a1b2-c3.d4:e5_f6", KEY_ID: "0a1b2c3d4e5f"}
        _log_access(asgi_scope, "/v1/reservations/{id}/commit", 409, 0.0012345)
        _log_access({"method": "GET", REQUEST_ID: "r"}, "unmatched", 404, 0.5)
        first, second = (json.loads(line) for line in handler.lines)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert first == {
        "method": "POST",
        "route": "/v1/reservations/{id}/commit",
        "status": 409,
        "latency_ms": 1.234,
        "key_id": "0a1b2c3d4e5f",
        "request_id": "a1b2-c3.d4:e5_f6",
    }
    assert second["key_id"] is None and second["status"] == 404

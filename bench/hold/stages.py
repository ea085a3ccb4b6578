"""Which stage of a request a sampled stack belongs to.

A stack is py-spy's (``--native``): Python frames ``func (path.py:line)`` and native ones
``func (file.c:line)`` / ``func (lib.so)``, outermost first. Python frames are read from the
innermost outwards, skipping the transparent ones (asyncio, Starlette's request and
header objects, the standard library, asyncpg's Python layer, our transport's queueing):
the first frame that is not transparent names the stage, so a header lookup made by
authentication counts as authentication and an asyncpg call made by the idempotency
store as idempotency. Where no application frame runs (the event loop is in C), the native
frames name it; a garbage collection counts as GC wherever it was triggered.
"""

import re
from collections.abc import Sequence

HTTP_IN = "uvicorn: request parsing callbacks, ASGI task start"
HTTP_C = "event loop in C: socket reads, HTTP parsing (uvloop, httptools)"
MIDDLEWARE = "ASGI middleware: request id, latency timer, proxy headers"
DISPATCH = "routing: api/dispatch.py, Starlette Request"
OPS = "operation table's own code (api/ops.py, actor)"
AUTH = "authentication (api/auth.py)"
RATE = "rate limit (api/ratelimit.py)"
BODY = "body: reading (ASGI receive) and decoding (msgspec)"
LANE = "lane check (api/lanes.py)"
IDEMPOTENCY = "idempotency (api/idempotency.py: claim and answer in PostgreSQL)"
HANDLER = "handler (api/routes_reservations.py)"
ENGINE_REQUEST = "engine: request (reservations/model.py: validation, sort, digest, legs)"
ENGINE_ARGS = "engine: keys and arguments (reservations/calls.py, atp/keys.py)"
ENGINE_SEND = "engine: queueing the EVALSHA (atp/redis_io.py run, command)"
ENGINE_REPLY = "engine: reply decoding (reservations/replies.py)"
ENGINE_OUTCOME = "engine: outcome (coordinator: Reservation, LineStatus)"
POSITIONS = "positions in the answer (decoding, _positions_after, PositionOut)"
ANSWER = "answer value (api/schemas_res.py ReservationOut.of: lines, expiry)"
RESPONSE = "response: msgspec encoding, Response object (api/codec.py, Starlette)"
SEND = "uvicorn: send (ASGI messages, the response's socket write)"
REDIS_IO = "Redis transport, all callers: socket writes, reply parsing (atp/redis_io.py)"
WAIT = "durability wait, the request's side (group_commit.py sync, check, partitions)"
FLUSHER = "durability: group commit flusher (XRANGE, header reads, INSERT via asyncpg)"
PG_C = "event loop in C: PostgreSQL protocol (asyncpg Cython)"
METRICS = "metrics (api/metrics.py, prometheus_client)"
ACCESS_LOG = "access log (api/middleware.py _log_access, json, logging)"
REPLICA = "replica: applying the stream's events (atp/replica.py)"
READS = "availability read (api/fast.py, api/reads.py, replica reads)"
BACKGROUND = "background: expiry sweeper, re-sourcer, metrics export, uvicorn ticks"
LOOP_C = "event loop in C: task steps, callbacks, timers, deallocation (uvloop, _asyncio)"
LOOP_PY = "event loop in Python (asyncio: gather, futures, task creation)"
PG_POOL = "asyncpg pool in tasks of its own (connection release: reset query)"
GC = "cycle GC (collections of new objects; start-up objects are frozen)"
IDLE = "idle"  # waiting in epoll: not CPU

ORDER = [
    HTTP_C, HTTP_IN, MIDDLEWARE, DISPATCH, OPS, AUTH, RATE, BODY, LANE, IDEMPOTENCY,
    HANDLER, ENGINE_REQUEST, ENGINE_ARGS, ENGINE_SEND, ENGINE_REPLY, ENGINE_OUTCOME,
    POSITIONS, ANSWER, RESPONSE, SEND, REDIS_IO, WAIT, FLUSHER, PG_POOL, PG_C, METRICS, ACCESS_LOG,
    REPLICA, READS, BACKGROUND, LOOP_PY, LOOP_C, GC,
]  # fmt: skip

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Python frames that take the stage of whoever called them.
_TRANSPARENT = (
    "asyncio/", "<frozen", "starlette/requests.py", "starlette/datastructures.py",
    "starlette/_utils.py", "asyncpg/", "atp/validate.py", "atp/actor.py", "enum.py",
    "typing.py", "functools.py", "contextlib.py", "contextvars", "re/", "json/", "logging/",
    "uuid.py", "datetime.py", "abc.py", "_weakrefset.py", "weakref.py", "threading.py",
)  # fmt: skip
# The process's outer frames: below them only the event loop runs.
_ROOT = ("multiprocessing/", "cli/supervisor.py", "uvicorn/server.py", "uvicorn/_compat.py",
         "asyncio/runners.py")  # fmt: skip
_IDLE_NATIVE = frozenset({"epoll_pwait", "epoll_wait", "__GI_epoll_pwait", "epoll_pwait2"})
_GC_NATIVE = ("gc_collect", "collect_with_callback", "collect_generations", "_PyGC_")
_WRITE_NATIVE = frozenset({"write", "__libc_write", "writev", "send", "sendto", "sendmsg"})

# (path suffix, function or "" for any) -> stage, first match wins.
_PYTHON: list[tuple[str, str, str]] = [
    ("api/codec.py", "read_body", BODY), ("api/codec.py", "check_content_type", BODY),
    ("api/codec.py", "decode", BODY), ("api/codec.py", "decoder", BODY),
    ("api/codec.py", "", RESPONSE),
    ("api/ops.py", "Ctx.wrote", WAIT), ("api/ops.py", "_body", BODY), ("api/ops.py", "", OPS),
    ("api/middleware.py", "_log_access", ACCESS_LOG), ("api/middleware.py", "", MIDDLEWARE),
    ("uvicorn/middleware/", "", MIDDLEWARE),
    ("httptools_impl.py", "RequestResponseCycle.send", SEND),
    ("httptools_impl.py", "RequestResponseCycle.receive", BODY),
    ("uvicorn/protocols/", "", HTTP_IN), ("uvicorn/", "", BACKGROUND),
    ("api/dispatch.py", "", DISPATCH), ("starlette/routing.py", "", DISPATCH),
    ("fastapi/", "", DISPATCH), ("starlette/responses.py", "", RESPONSE),
    ("api/auth.py", "", AUTH), ("api/ratelimit.py", "", RATE),
    ("api/idempotency.py", "", IDEMPOTENCY), ("api/lanes.py", "", LANE),
    ("api/schemas_res.py", "ReservationOut.of", ANSWER), ("api/schemas", "", POSITIONS),
    ("api/routes_reservations.py", "", HANDLER), ("api/results.py", "", HANDLER),
    ("api/metrics.py", "", METRICS), ("prometheus_client/", "", METRICS),
    ("api/fast.py", "", READS), ("api/reads.py", "", READS), ("atp/replica_reads.py", "", READS),
    ("api/app.py", "", BACKGROUND), ("atp/tasks.py", "", BACKGROUND),
    ("reservations/replies.py", "_positions", POSITIONS),
    ("reservations/model.py", "positions_of", POSITIONS),
    ("reservations/replies.py", "", ENGINE_REPLY),
    ("reservations/coordinator.py", "Reservations._positions_after", POSITIONS),
    ("reservations/coordinator.py", "Reservations._created", ENGINE_OUTCOME),
    ("reservations/coordinator.py", "Reservations.reserve", ENGINE_REQUEST),
    ("reservations/model.py", "", ENGINE_REQUEST),
    ("reservations/calls.py", "", ENGINE_ARGS), ("atp/keys.py", "", ENGINE_ARGS),
    ("reservations/expiry.py", "", BACKGROUND), ("routing/", "", BACKGROUND),
    ("durability/group_commit.py", "Durability.sync", WAIT),
    ("durability/group_commit.py", "Durability.check", WAIT),
    ("durability/group_commit.py", "touched_partitions", WAIT),
    ("durability/", "", FLUSHER),
    ("atp/replica.py", "", REPLICA), ("atp/packed.py", "", REPLICA),
]  # fmt: skip
# Our transport's own frames take their caller's stage, except where the loop calls them.
_TRANSPORT = "atp/redis_io.py"
_TRANSPORT_ROOTS = ("PipelinedRedis._flush", "_ReplyProtocol.data_received")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) per frame, outermost first."""
    found = []
    for part in stack.split(";"):
        match = _FRAME.match(part)
        found.append((match["func"], match["file"]) if match else (part, ""))
    return found


def is_python(file: str) -> bool:
    return file.endswith(".py") or file.startswith("<")


def _native_tail(stack: Sequence[tuple[str, str]]) -> list[str]:
    """The native frames below the innermost Python frame."""
    tail: list[str] = []
    for func, file in reversed(stack):
        if is_python(file):
            break
        tail.append(func)
    return tail


def is_idle(stack: Sequence[tuple[str, str]]) -> bool:
    return bool(stack) and stack[-1][0] in _IDLE_NATIVE


def writes(stack: Sequence[tuple[str, str]]) -> bool:
    """In a socket write's system call (its kernel time counts to the caller's stage)."""
    return any(func in _WRITE_NATIVE for func in _native_tail(stack))


def _python_stage(func: str, file: str, outer: Sequence[tuple[str, str]]) -> str | None:
    if file.endswith("api/codec.py") and func == "encode":
        # The Idempotency-Key's canonical body (api/ops.py _run), else a response.
        caller = next((f for f, p in reversed(outer) if p.endswith("api/ops.py")), "")
        return IDEMPOTENCY if caller == "_run" else RESPONSE
    for suffix, name, stage in _PYTHON:
        if suffix in file and (not name or func == name):
            return stage
    return None


def _loop_stage(tail: Sequence[str]) -> str:
    joined = ";".join(tail)
    if any(s in joined for s in ("CoreProtocol", "BaseProtocol", "PreparedStatement", "asyncpg")):
        return PG_C
    if any(s in joined for s in ("llhttp", "httptools", "HttpParser", "cb_on_")):
        return HTTP_C
    if any(s in joined for s in ("uv__read", "stream_on_read", "UVStream__on_read", "readv")):
        return HTTP_C
    return LOOP_C


def stage_of(stack: Sequence[tuple[str, str]]) -> str:
    if is_idle(stack):
        return IDLE
    tail = _native_tail(stack)
    if any(func.startswith(_GC_NATIVE) for func in tail):
        return GC
    python = [(f, p) for f, p in stack if is_python(p)]
    skipped: list[str] = []  # transparent frames' files met on the way out
    for i in range(len(python) - 1, -1, -1):
        func, file = python[i]
        if file.startswith(_ROOT) or (func, file) == ("<module>", "<string>"):
            if any(s.startswith("asyncpg/") for s in skipped):
                return PG_POOL
            return LOOP_PY if skipped else _loop_stage(tail)
        if file.endswith(_TRANSPORT):
            if func in _TRANSPORT_ROOTS:
                return REDIS_IO
            owner = next((p for _, p in reversed(python[:i]) if not p.endswith(_TRANSPORT)), "")
            if owner.startswith(("reservations/", "atp/stock", "atp/availability")):
                return ENGINE_SEND
            continue
        if file.startswith(_TRANSPARENT) or ("/" not in file and not file.startswith("<")):
            skipped.append(file)
            continue
        stage = _python_stage(func, file, python[:i])
        if stage is not None:
            return stage
    return LOOP_PY

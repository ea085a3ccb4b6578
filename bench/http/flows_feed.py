"""The alert and changes flows of the locust file: back-in-stock sign-ups (and the
unsubscribes that follow), and listeners holding a /v1/changes stream open.

A listener reports each event it reads as a request of type ``SSE`` named
``/v1/changes event``: its count per second is the events/s, its "response time" the lag
from the event's ``at`` (when the ledger wrote it) to its arrival, so the CSV and the
thresholds read it like any request. Lag needs the load and the server on one clock.
"""

import datetime
import json
import random
import time
from typing import Any

import requests
from locust import User, between, task

from bench.http import config
from bench.http.calls import ApiUser

SSE = "SSE"
EVENT, UNTIMED, CONNECT = "/v1/changes event", "/v1/changes event (no at)", "/v1/changes"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 45.0  # the server pings every 15 s: silence past this is a dead stream


class AlertSignup(ApiUser):
    """Signs a new contact up for a back-in-stock alert at a store, reads it back, then
    half of them unsubscribe through the message's link (the token), half by id."""

    role = "alerts"

    @task
    def sign_up(self) -> None:
        body = {
            "contact": {"email": f"{config.new_id('al')}@example.com"},
            "consent": {
                "given": True,
                "at": datetime.datetime.now(datetime.UTC).isoformat(),
                "source": "locust",
            },
            "sku": random.choice(config.SKUS),
            "location": random.choice(config.STORES),
        }
        found = self.call("POST", "/v1/alerts/subscriptions", "/v1/alerts/subscriptions", body)
        if found is None:
            return
        path, name = f"/v1/alerts/subscriptions/{found['id']}", "/v1/alerts/subscriptions/{id}"
        self.call("GET", path, name)
        if random.random() < 0.5:
            token = {"token": found["unsubscribe_token"]}
            self.call("POST", "/v1/alerts/unsubscribe", "/v1/alerts/unsubscribe", token)
        else:
            self.call("DELETE", path, name)


class ChangeListener(User):
    """Holds GET /v1/changes open (ATP_BENCH_CHANGES_STREAM_S, then reconnects) and
    reports every event it reads."""

    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {config.key('listener')}"

    def on_stop(self) -> None:
        self.session.close()

    def _report(self, name: str, ms: float, size: int, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=SSE,
            name=name,
            response_time=ms,
            response_length=size,
            exception=error,
            context={},
        )

    @task
    def listen(self) -> None:
        query = f"timeout_s={config.CHANGES_STREAM_S:g}"
        if config.CHANGES_QUERY:
            query += "&" + config.CHANGES_QUERY
        started = time.perf_counter()
        try:
            with self.session.get(
                f"{self.host}/v1/changes?{query}",
                stream=True,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            ) as response:
                took = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    error = RuntimeError(f"{response.status_code} {response.text[:120]}")
                    self._report(CONNECT, took, 0, error)
                    return
                self._report(CONNECT, took, 0, None)
                self._read(response)
        except (requests.RequestException, OSError) as exc:
            self._report(CONNECT, (time.perf_counter() - started) * 1000, 0, exc)

    def _read(self, response: requests.Response) -> None:
        data = ""
        for raw in response.iter_lines():
            line = raw.decode()
            if line.startswith("data:"):
                data = line[5:].strip()
            elif not line and data:
                self._event(data)
                data = ""

    def _event(self, data: str) -> None:
        try:
            found: dict[str, Any] = json.loads(data)
            at = datetime.datetime.fromisoformat(str(found["at"]))
        except (ValueError, KeyError, TypeError):
            self._report(UNTIMED, 0, len(data), None)
            return
        lag = datetime.datetime.now(datetime.UTC) - at
        self._report(EVENT, max(0.0, lag.total_seconds() * 1000), len(data), None)

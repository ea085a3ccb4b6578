"""One request of a flow, with the refusals a flow expects under load counted apart.

A 409 the system is meant to answer under load (stock ran out at a store, two associates
pressed the same order) is no failure of the system: it is reported as a success under
``<name> [<status> <problem>]`` so the CSV shows how often it happened and the thresholds
judge only real failures.
"""

import json
from typing import Any

from locust import FastHttpUser, between

from bench.http import config

Expected = frozenset[str]  # problem types (the last part of `type`) a flow may be answered


class ApiUser(FastHttpUser):
    """A caller of the API with the key of its role."""

    abstract = True
    role = ""
    wait_time = between(0, 0.01)
    network_timeout = config.REQUEST_TIMEOUT_S
    connection_timeout = config.REQUEST_TIMEOUT_S

    def on_start(self) -> None:
        self.headers = {
            "Authorization": f"Bearer {config.key(self.role)}",
            "Content-Type": "application/json",
        }

    def call(
        self,
        method: str,
        path: str,
        name: str,
        body: object = None,
        expected: Expected = frozenset(),
    ) -> dict[str, Any] | None:
        """The decoded answer of a 2xx, or None (a failure or an expected refusal)."""
        with self.client.request(
            method, path, name=name, json=body, headers=self.headers, catch_response=True
        ) as response:
            status = response.status_code
            if status is not None and 200 <= status < 300:
                found: dict[str, Any] = response.json()
                return found
            problem = _problem(response.text or "")
            if problem in expected:
                response.request_meta["name"] = f"{name} [{status} {problem}]"
                response.success()
            else:
                response.failure(f"{status} {problem or (response.text or '')[:120]}")
            return None


def _problem(text: str) -> str:
    """The problem type's last part from an RFC 9457 body, or ''."""
    try:
        found = json.loads(text)
    except ValueError:
        return ""
    kind = found.get("type") if isinstance(found, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else ""

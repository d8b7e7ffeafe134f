"""A clerk and a reviewer through the HTTP API only: what the first-forward and scale-out figures share.

Everything goes over loopback to a real server (``tongban serve`` or ``uvicorn``), with the bearer
tokens the demo seed printed; no database access from the client side.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.scans import USCC, scanned_pdf

#: One line of ``tongban serve``'s (or ``tongban seed demo``'s) account list: name, role, zone, token.
ACCOUNT_LINE = re.compile(r"^\s+(\S+)\s+(\S+)\s+(\S+)\s+token (\S+)\s*$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_tokens(text: str) -> dict[str, str]:
    """username → bearer token, from the accounts ``tongban serve`` prints at start."""
    return {m.group(1): m.group(4) for line in text.splitlines() if (m := ACCOUNT_LINE.match(line))}


def wait_until_up(client: httpx.Client, base: str, *, timeout: float = 120.0,
                  alive: Any = None) -> None:
    """``/healthz`` answers 200 (``alive()`` False means the server died: raise at once)."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise RuntimeError("the server exited before answering")
        try:
            if client.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not answer within {timeout:.0f} s")
        time.sleep(0.05)


@dataclass
class Timings:
    """Seconds per endpoint (name → list), for percentiles."""

    by_endpoint: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.by_endpoint.setdefault(name, []).append(seconds)

    def merge(self, other: Timings) -> None:
        for name, values in other.by_endpoint.items():
            self.by_endpoint.setdefault(name, []).extend(values)


@dataclass
class Counter:
    """The two demo desks a case passes: 北京经开区 receives it, 天津泰达 handles it."""

    client: httpx.Client
    base: str
    tokens: dict[str, str]
    item_code: str = "QY-001"
    handling_zone: str = "TJ-TEDA"
    scan_bytes: int = 200_000
    timings: Timings = field(default_factory=Timings)
    _materials: list[int] | None = None

    def _call(self, name: str, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
        start = time.perf_counter()
        response = self.client.request(method, f"{self.base}{path}",
                                       headers={"Authorization": f"Bearer {self.tokens[user]}"}, **kw)
        self.timings.add(name, time.perf_counter() - start)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} as {user}: {response.status_code} {response.text[:400]}")
        return response

    def materials(self) -> list[int]:
        if self._materials is None:
            items = self._call("GET /items", "GET", "/api/v1/items", "bj_clerk", params={"q": self.item_code}).json()
            item = next(i for i in items if i["code"] == self.item_code and i["handling_zone"] == self.handling_zone)
            self._materials = [m["id"] for m in item["materials"]]
        return self._materials

    def receive(self, seed: int = 0) -> dict[str, Any]:
        """收件 with one 2-page scan per checklist line (the clerk at the window)."""
        ids = self.materials()
        form = {"item_code": self.item_code, "handling_zone": self.handling_zone,
                "applicant": {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                              "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                "checklist": [{"item_material_id": m} for m in ids]}
        files: list[tuple[str, tuple[str | None, str | bytes, str]]] = [
            ("case", (None, json.dumps(form, ensure_ascii=False), "application/json"))]
        files += [(f"material_{m}", (f"扫描件-{n + 1}.pdf", scanned_pdf(self.scan_bytes, 2, (seed + n) % 8),
                                     "application/pdf")) for n, m in enumerate(ids)]
        return self._call("POST /cases", "POST", "/api/v1/cases", "bj_clerk", files=files).json()  # type: ignore[arg-type]

    def event(self, case: dict[str, Any], event: str, user: str, **payload: Any) -> dict[str, Any]:
        body = {"event": event, "version": case["version"], **payload}
        return self._call(f"POST event {event}", "POST", f"/api/v1/cases/{case['case_no']}/events", user,
                          json=body).json()

    def get(self, case_no: str, user: str = "bj_clerk") -> dict[str, Any]:
        return self._call("GET /cases/{no}", "GET", f"/api/v1/cases/{case_no}", user).json()

    def queue(self, user: str) -> list[dict[str, Any]]:
        return self._call("GET /queue", "GET", "/api/v1/queue", user).json()

    def wait_state(self, case_no: str, state: str, *, timeout: float, poll: float = 0.02,
                   user: str = "bj_clerk") -> dict[str, Any]:
        """Poll the case until it shows ``state`` (the clock of a clerk watching the page)."""
        deadline = time.monotonic() + timeout
        while True:
            case = self._call("GET /cases/{no} (poll)", "GET", f"/api/v1/cases/{case_no}", user).json()
            if case["state"] == state:
                return case
            if time.monotonic() > deadline:
                raise RuntimeError(f"{case_no} still {case['state']} after {timeout:.0f} s, never {state}")
            time.sleep(poll)


def serve_env(home: str, **extra: str) -> dict[str, str]:
    """The environment of a server of ours: a fresh home, no telemetry, quiet Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "PREFECT_"))}
    env.update({"TONGBAN_HOME": home, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING", **extra})
    return env

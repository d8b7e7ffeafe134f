"""Two real tongban deployments on loopback, each its own ``tongban serve`` process, database, store and key.

``Deployment`` drives one through its CLI (migrate, seed, ``federation init``, ``peer add``) and its
HTTP API (receive, events), and can be stopped (SIGKILL: a crash) and started again on the same port.
``FlipProxy`` sits between the two on loopback: it forwards TCP both ways and, when armed, flips one
byte in the body of the next blob upload, or calls back when a number of upload requests went by.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.app_harness import USCC, make_pdf
from tests.servers import free_port

TONGBAN = str(Path(sys.executable).with_name("tongban"))
REPO = Path(__file__).resolve().parents[2]


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise LookupError(name)


@dataclass
class Deployment:
    name: str
    zone: str
    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    public_key: str = ""
    fingerprint: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([TONGBAN, *args], env=self.env, cwd=self.home, capture_output=True, text=True,
                             timeout=180)
        if check and out.returncode != 0:
            raise AssertionError(f"tongban {' '.join(args)} on {self.name} exited {out.returncode}:\n"
                                 f"{out.stdout}\n{out.stderr}")
        return out

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        users = json.loads(self.cli("seed", "demo", "--json").stdout)
        self.tokens = {u["username"]: u["token"] for u in users}
        ident = json.loads(self.cli("federation", "init", "--json").stdout)
        self.public_key, self.fingerprint = ident["public_key"], ident["fingerprint"]

    def start(self) -> None:
        log = (self.home / "serve.log").open("ab")
        self.proc = subprocess.Popen([TONGBAN, "serve", "--no-demo", "--port", str(self.port)], env=self.env,
                                     cwd=self.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.name} did not answer within 120 s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """A crash: SIGKILL to the whole process group, nothing shut down cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log(self) -> str:
        path = self.home / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def rss_kib(self) -> int:
        assert self.proc is not None
        return status_kib(self.proc.pid, "VmRSS")

    # --- the API, as a clerk or reviewer uses it ---------------------------------------------------

    def public_fingerprint(self) -> str:
        """The fingerprint of the key this deployment signs with now (after a rotation: the new one)."""
        return str(json.loads(self.cli("federation", "init", "--json").stdout)["fingerprint"])

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def api(self, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.base, timeout=120) as c:
            return c.request(method, path, headers=self.h(user), **kwargs)

    def item(self, code: str, zone: str, user: str) -> dict[str, Any]:
        items = self.api("GET", "/api/v1/items", user, params={"q": code}).json()
        return next(i for i in items if i["code"] == code and i["handling_zone"] == zone)

    def receive(self, user: str = "bj_clerk", item_code: str = "QY-001", handling_zone: str = "TJ-TEDA",
                files: list[tuple[str, bytes]] | None = None, **extra: Any) -> dict[str, Any]:
        item = self.item(item_code, handling_zone, user)
        mats = item["materials"]
        form = {"item_code": item_code, "handling_zone": handling_zone,
                "applicant": {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                              "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                "checklist": [{"item_material_id": m["id"]} for m in mats], **extra}
        files = files if files is not None else [("申请表.pdf", make_pdf("申请表")), ("执照.pdf", make_pdf("执照", 2))]
        parts: list[tuple[str, tuple[str, Any, str]]] = [("case", ("case.json", json.dumps(form), "application/json"))]
        for i, (name, data) in enumerate(files):
            parts.append((f"material_{mats[i % len(mats)]['id']}", (name, io.BytesIO(data), "application/pdf")))
        r = self.api("POST", "/api/v1/cases", user, files=parts)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def case(self, case_no: str, user: str) -> dict[str, Any]:
        r = self.api("GET", f"/api/v1/cases/{case_no}", user)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def event(self, user: str, case_no: str, event: str, **payload: Any) -> dict[str, Any]:
        version = self.case(case_no, user)["version"]
        r = self.api("POST", f"/api/v1/cases/{case_no}/events", user, json={"event": event, "version": version,
                                                                          **payload})
        assert r.status_code == 200, f"{event} on {self.name}: {r.status_code} {r.text}"
        return r.json()  # type: ignore[no-any-return]

    def transfer(self, case_no: str, user: str) -> dict[str, Any]:
        r = self.api("GET", f"/api/v1/cases/{case_no}/federation", user)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def upload_result(self, user: str, case_no: str) -> int:
        r = self.api("POST", f"/api/v1/cases/{case_no}/files", user, data={"purpose": "result"},
                     files=[("files", ("许可决定书.pdf", io.BytesIO(make_pdf("许可决定书")), "application/pdf"))])
        assert r.status_code in (200, 201), r.text
        body = r.json()
        return int((body[0] if isinstance(body, list) else body.get("files", [body])[0])["id"])

    def wait_state(self, case_no: str, user: str, state: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            r = self.api("GET", f"/api/v1/cases/{case_no}", user)
            if r.status_code == 200:
                last = r.json()
                if last["state"] == state:
                    return last
            time.sleep(0.5)
        raise AssertionError(f"{case_no} on {self.name} did not reach {state} within {timeout} s "
                             f"(last: {last.get('state')})\n{self.log()[-3000:]}")


def deployment_env(home: Path, *, federation_id: str, database_url: str, storage_url: str,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update({
        "TONGBAN_HOME": str(home), "TONGBAN_DATABASE_URL": database_url, "TONGBAN_STORAGE_URL": storage_url,
        "TONGBAN_MODE": "embedded", "TONGBAN_SECRET_KEY": os.urandom(32).hex(), "TONGBAN_FEDERATION_ID": federation_id,
        "PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING", **(extra or {}),
    })
    return env


# --- a TCP proxy that can flip a byte in transit --------------------------------------------------

class FlipProxy:
    """Loopback TCP proxy in front of a deployment. ``arm_flip()``: the next blob upload's body gets one byte
    flipped. ``on_upload(n, fn)``: call ``fn`` when the n-th blob upload request goes through."""

    MARK = b"PUT /federation/v1/blobs/"

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.flips_armed = 0
        self.flipped = 0
        self.uploads = 0
        self.upload_bytes = 0
        self._callback: tuple[int, Callable[[], None]] | None = None
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm_flip(self, times: int = 1) -> None:
        with self._lock:
            self.flips_armed = times

    def on_upload(self, n: int, fn: Callable[[], None]) -> None:
        with self._lock:
            self._callback = (self.uploads + n, fn)

    def close(self) -> None:
        self._stopping = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        flip_at: int | None = None  # bytes of headers still to pass before the byte to flip
        try:
            while True:
                received = src.recv(65536)
                if not received:
                    break
                if to_server:
                    data = bytearray(received)
                    count = received.count(self.MARK)
                    if count:
                        with self._lock:
                            self.uploads += count
                            cb = self._callback
                            if cb is not None and self.uploads >= cb[0]:
                                self._callback = None
                                threading.Thread(target=cb[1], daemon=True).start()
                            if self.flips_armed and flip_at is None:
                                self.flips_armed -= 1
                                flip_at = -1
                    if flip_at == -1:  # armed: find the end of the headers, then 100 bytes into the body
                        end = bytes(data).find(b"\r\n\r\n")
                        if end >= 0:
                            flip_at = end + 4 + 100
                    if flip_at is not None and flip_at >= 0:
                        if flip_at < len(data):
                            data[flip_at] ^= 0xFF
                            self.flipped += 1
                            flip_at = None
                        else:
                            flip_at -= len(data)
                    self.upload_bytes += len(data)
                    received = bytes(data)
                dst.sendall(received)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

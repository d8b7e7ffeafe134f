"""Peak memory of a real server while one very large scan is uploaded through ``POST /api/v1/cases``.

The server is ``uvicorn`` in a subprocess, configured only by ``TONGBAN_*`` environment variables as
in production; its peak resident set (``VmHWM`` in ``/proc/<pid>/status``, reset after a warm-up
upload through ``/proc/<pid>/clear_refs``) is compared with its resident set when idle. The client
streams the multipart body from a generator, so neither side needs the file in memory: the PDF is
valid (one page showing one huge uncompressed image) and the upload must be accepted (201).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.runner import BenchDB, Profile, Result
from bench.scans import receive_form

NAME = "upload_memory"
CHUNK = 1 << 20


def big_pdf(size: int) -> tuple[int, Iterator[bytes]]:
    """A valid one-page PDF of about ``size`` bytes, produced piece by piece: (exact length, chunks)."""
    width = 8192
    height = max(1, size // width)
    n = width * height
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q\n"
    parts = [
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>\nendobj\n",
        b"4 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n",
    ]
    image_head = (b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                  b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (width, height, n))
    offsets, pos = [], 0
    for p in parts:
        offsets.append(pos)
        pos += len(p)
    offsets.append(pos)
    image_end = pos + len(image_head) + n
    xref_at = image_end + len(b"\nendstream\nendobj\n")
    xref = b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets[1:])
    tail = (b"\nendstream\nendobj\n" + xref + b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % xref_at)
    length = image_end + len(tail)

    def gen() -> Iterator[bytes]:
        yield b"".join(parts) + image_head
        block = os.urandom(CHUNK)
        left = n
        while left:
            take = min(left, CHUNK)
            yield block[:take]
            left -= take
        yield tail

    return length, gen()


def multipart(form_json: str, field: str, filename: str, size: int) -> tuple[str, int, Iterator[bytes]]:
    """A multipart/form-data body as a generator: (content type, length, chunks)."""
    boundary = uuid.uuid4().hex
    pdf_len, pdf = big_pdf(size)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"case\"\r\n"
            f"Content-Type: application/json\r\n\r\n{form_json}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def gen() -> Iterator[bytes]:
        yield head
        yield from pdf
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + pdf_len + len(tail), gen()


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _upload(client: httpx.Client, base: str, token: str, form_json: str, field: str, size: int) -> httpx.Response:
    ctype, length, body = multipart(form_json, field, "scan-large.pdf", size)
    return client.post(f"{base}/api/v1/cases", content=body,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": ctype,
                                "Content-Length": str(length)})


@dataclass
class Server:
    """``uvicorn`` serving ``web.app:create_app`` for one bench database, configured by environment only."""

    process: subprocess.Popen[bytes]
    base: str
    log_path: Path
    size: int
    launched: float

    def close(self) -> None:
        """Kill the server and anything it started (its own process group): the figure is taken."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def launch(db: BenchDB, profile: Profile) -> Server:
    """Start the server now (its imports take seconds) so that it boots while other figures run.

    ``distributed`` mode: the web process alone, as a replica runs it. In embedded mode the same
    process also runs the dispatcher, the reconciler and the SLA sweeper on timers; they have no
    part in an upload, and on SQLite their write transactions would collide with the bulk loading
    of the other figures that runs meanwhile.
    """
    settings = db.runtime.settings
    size = profile.upload_mb * 1024 * 1024
    port = _free_port()
    env = {**os.environ, "TONGBAN_HOME": str(settings.home), "TONGBAN_DATABASE_URL": db.url,
           "TONGBAN_STORAGE_URL": settings.resolved_storage_url(), "TONGBAN_MODE": "distributed",
           "TONGBAN_MAX_FILE_BYTES": str(size * 2), "DO_NOT_TRACK": "1",
           # distributed mode refuses to start without a secret of its own (docs/security.md)
           "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32)}
    log_path = settings.home / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,  # its own process group, so close() leaves no child behind
        )
    return Server(process=process, base=f"http://127.0.0.1:{port}", log_path=log_path, size=size,
                  launched=time.perf_counter())


def _wait_until_up(client: httpx.Client, server: Server, timeout: float = 90) -> float:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {server.log_path.read_text()[-2000:]}")
        try:
            if client.get(f"{server.base}/healthz").status_code == 200:
                return time.perf_counter() - server.launched
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def run(db: BenchDB, profile: Profile, server: Server | None = None) -> list[Result]:
    if not Path("/proc/self/status").exists():
        return [Result(name="peak memory, streamed upload", backend=db.backend, value=float("nan"), unit="MB",
                       baseline=None, baseline_label="", ratio=None, target="< 200 MB above idle", passed=None,
                       note="no /proc on this system: not measured")]
    server = server or launch(db, profile)
    pid, base, size = server.process.pid, server.base, server.size
    try:
        with httpx.Client(timeout=600) as client:
            up_in = _wait_until_up(client, server)
            form, material_ids = receive_form(db)
            form_json = json.dumps(form.model_dump(), ensure_ascii=False)
            field = f"material_{material_ids[0]}"
            token = db.tokens["bj_clerk"]
            warm = _upload(client, base, token, form_json, field, 2 * 1024 * 1024)
            if warm.status_code != 201:
                raise RuntimeError(f"warm-up upload refused: {warm.status_code} {warm.text[:500]}")
            idle_kb = _status_kb(pid, "VmRSS")
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
            start = time.perf_counter()
            response = _upload(client, base, token, form_json, field, size)
            seconds = time.perf_counter() - start
            peak_kb = _status_kb(pid, "VmHWM")
            if response.status_code != 201:
                raise RuntimeError(f"large upload refused: {response.status_code} {response.text[:500]}")
    finally:
        server.close()
    above = (peak_kb - idle_kb) / 1024
    mb = size / 1024 ** 2
    return [Result(
        name=f"peak memory, streamed upload of {mb:.0f} MB", backend=db.backend, value=above, unit="MB",
        baseline=mb, baseline_label="file size", ratio=above / mb,
        target="< 200 MB above idle", passed=above < 200, n=1,
        note=f"idle RSS {idle_kb / 1024:.0f} MB, peak {peak_kb / 1024:.0f} MB",
        extra={"idle_mb": idle_kb / 1024, "peak_mb": peak_kb / 1024, "upload_s": seconds, "server_start_s": up_in,
               "MB_per_s": mb / seconds},
    )]

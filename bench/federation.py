"""Federation: a case crossing between two deployments on loopback, against copying its bytes once.

The receiving deployment is a real server (``uvicorn`` on ``web.app:create_app``, its own SQLite
database, filesystem store and Ed25519 key, the sender registered as its peer). The sending side is
a subprocess of its own (``python -m bench.federation send …``) so that its memory is its own:

- **transfer vs copy**: a 10 MB case (one 10 MB scan, packet, manifest) sent as the protocol sends it
  — blobs in signed, hashed, resumable chunks, then the signed message, the mirrored case created
  through intake and the transition service, the signed receipt checked — against PUTting the same
  10 MB once to a plain HTTP sink in the same process. Target ≤ 2×.
- **memory**: a 500 MB blob (``full``; smaller in ``quick``/``tiny``) uploaded the same way; the growth
  of each process's peak resident set (``VmHWM``, reset through ``clear_refs``) over its idle size.
  Target < 100 MB on each side.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.runner import BenchDB, Profile, Result

NAME = "federation"
CHUNK = 4 * 1024 * 1024


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


# --- the sending side (a subprocess) -------------------------------------------------------------

class _Sink(http.server.BaseHTTPRequestHandler):
    """Reads a request body and throws it away: the cost of moving the bytes over HTTP once."""

    def do_PUT(self) -> None:  # noqa: N802
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 1 << 20)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _write_random(path: Path, size: int) -> str:
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[:min(left, len(block))]
            h.update(piece)
            out.write(piece)
            left -= len(piece)
    return h.hexdigest()


def _scan_pdf(path: Path, size: int) -> str:
    from bench.upload_memory import big_pdf

    _, chunks = big_pdf(size)
    h = hashlib.sha256()
    with path.open("wb") as out:
        for c in chunks:
            h.update(c)
            out.write(c)
    return h.hexdigest()


def _case_ref() -> str:
    return f"BJETOWN-{datetime.now(UTC):%Y%m%d}-8{secrets.randbelow(10**4):04d}"


def _transfer_body(blobs: list[tuple[str, str, int]], case_ref: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "case": {"case_no": case_ref, "version": 4, "state": "prechecked",
                 "item": {"code": "QY-001", "name": "企业档案查询", "zone": "TJ-TEDA", "promised_days": 3},
                 "receiving_zone": {"code": "BJ-ETOWN", "name": "北京经济技术开发区"}, "handling_zone": "TJ-TEDA",
                 "applicant": {"kind": "enterprise", "name": "基准测试科技有限公司", "id_number": "91350100M000100Y43",
                               "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                 "delivery_method": "mail", "delivery_address": "天津市滨海新区第三大街1号",
                 "received_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "due_at": None,
                 "paused_since": None,
                 "materials": [{"position": p, "name": f"材料{p}", "required": True, "provided": True,
                                "paper_received": True} for p in range(1, 8)]},
        "files": [{"sha256": blobs[0][1], "size": blobs[0][2], "filename": "扫描件.pdf", "kind": "pdf", "pages": 1,
                   "material": "材料1", "material_position": 1}],
        "packet": {"sha256": blobs[1][1], "size": blobs[1][2], "pages": 1, "filename": "packet.pdf"},
        "manifest": {"sha256": blobs[2][1], "size": blobs[2][2], "filename": "manifest.json"},
        "chain_head": {"seq": 3, "hash": "0" * 64},
        "blobs": [{"sha256": sha, "size": n} for _, sha, n in blobs],
    }


def send(args: dict[str, Any]) -> dict[str, Any]:
    """What the subprocess does: the transfer (or one big blob), measured from inside."""
    from federation import keys
    from federation.envelope import seal
    from federation.transfer import PeerAddress, upload_blob
    from storage.objects.filesystem import FilesystemStore

    ident = keys.load(Path(args["keys"]))
    assert ident is not None
    store = FilesystemStore(Path(args["store"]))
    peer = PeerAddress(args["recipient"], args["base"])
    work = Path(args["store"])
    out: dict[str, Any] = {}
    if args["what"] == "memory":
        path = work / "big.bin"
        sha = _write_random(path, args["size"])
        idle = _status_kb(os.getpid(), "VmRSS")
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")
        start = time.perf_counter()
        upload_blob(store=store, ident=ident, peer=peer, object_key="big.bin", sha256=sha, size=args["size"],
                    chunk_bytes=CHUNK)
        out.update(seconds=time.perf_counter() - start, idle_kb=idle, peak_kb=_status_kb(os.getpid(), "VmHWM"))
        return out
    # transfer vs copy
    size = args["size"]
    scan_sha = _scan_pdf(work / "scan.pdf", size)
    packet, manifest = os.urandom(20_000), json.dumps({"bench": uuid.uuid4().hex}).encode()
    store.put_bytes("packet.pdf", packet)
    store.put_bytes("manifest.json", manifest)
    blobs = [("scan.pdf", scan_sha, (work / "scan.pdf").stat().st_size),
             ("packet.pdf", hashlib.sha256(packet).hexdigest(), len(packet)),
             ("manifest.json", hashlib.sha256(manifest).hexdigest(), len(manifest))]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with httpx.Client(timeout=600) as c:
        c.put(f"http://127.0.0.1:{server.server_address[1]}/warm", content=b"x" * 1000)
        start = time.perf_counter()
        with (work / "scan.pdf").open("rb") as fh:
            c.put(f"http://127.0.0.1:{server.server_address[1]}/copy", content=iter(lambda: fh.read(1 << 20), b""),
                  headers={"Content-Length": str(blobs[0][2])})
        out["copy_s"] = time.perf_counter() - start
    server.shutdown()
    for attempt in ("warm-up", "measured"):  # the first also pays the receiver's first-request imports
        scan_sha = _scan_pdf(work / "scan.pdf", size)  # new bytes each time: nothing is already there
        blobs[0] = ("scan.pdf", scan_sha, (work / "scan.pdf").stat().st_size)
        start = time.perf_counter()
        for key, sha, n in blobs:
            upload_blob(store=store, ident=ident, peer=peer, object_key=key, sha256=sha, size=n, chunk_bytes=CHUNK)
        uploaded = time.perf_counter()
        case_ref = _case_ref()
        msg = seal(ident, message_id=str(uuid.uuid4()), recipient=args["recipient"], case_ref=case_ref,
                   type="transfer", seq=1, body=_transfer_body(blobs, case_ref))
        r = httpx.post(f"{args['base']}/federation/v1/messages", json=msg.as_json(), timeout=600)
        out[attempt] = {"transfer_s": time.perf_counter() - start, "upload_s": uploaded - start,
                        "message_s": time.perf_counter() - uploaded, "status": r.status_code, "answer": r.text[:300]}
    out.update(out["measured"])
    return out


# --- the receiving side and the figure -------------------------------------------------------------

def _receiver(db: BenchDB, root: Path, sender_public: str) -> tuple[subprocess.Popen[bytes], str]:
    """The bench database's deployment as the receiving side ``TJ``, the sender registered as peer ``BJ``."""
    from federation import keys
    from federation import service as peers
    from storage.db import transaction

    key_dir = root / "receiver-keys"
    keys.init(key_dir, "TJ")
    with transaction(db.runtime.session_factory) as s:
        if peers.get_peer(db_session=s, peer_id="BJ") is None:
            peers.add_peer(db_session=s, peer_id="BJ", base_url="http://127.0.0.1:9", zone_codes=["BJ-ETOWN"],
                           public_key=sender_public, own_id="TJ")
    st = db.runtime.settings
    port = _free_port()
    env = {**os.environ, "TONGBAN_HOME": str(st.home), "TONGBAN_DATABASE_URL": db.url,
           "TONGBAN_STORAGE_URL": st.resolved_storage_url(), "TONGBAN_MODE": "distributed",
           "TONGBAN_FEDERATION_ID": "TJ", "TONGBAN_FEDERATION_KEYS": str(key_dir),
           "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32), "DO_NOT_TRACK": "1"}
    log = root / "receiver.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host",
                                 "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("receiver did not answer within 120 s")
        time.sleep(0.2)
    return proc, base


def _sender(root: Path, base: str, what: str, size: int) -> dict[str, Any]:
    args: dict[str, Any] = {"keys": str(root / "sender-keys"), "store": str(root / f"sender-store-{what}"),
                            "recipient": "TJ", "base": base, "what": what, "size": size}
    Path(args["store"]).mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-m", "bench.federation", json.dumps(args)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"sender failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(db: BenchDB, profile: Profile) -> list[Result]:
    from federation import keys

    root = db.runtime.settings.home / f"federation-bench-{uuid.uuid4().hex[:6]}"
    root.mkdir(parents=True, exist_ok=True)
    ident, _ = keys.init(root / "sender-keys", "BJ")
    proc, base = _receiver(db, root, ident.current.public_key)
    big = profile.upload_mb * 1024 * 1024
    try:
        t = _sender(root, base, "transfer", 10 * 1024 * 1024)
        if t["status"] != 200:
            raise RuntimeError(f"transfer refused: {t['answer']}")
        idle_kb = _status_kb(proc.pid, "VmRSS")
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        m = _sender(root, base, "memory", big)
        recv_peak_kb = _status_kb(proc.pid, "VmHWM")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    ratio = t["transfer_s"] / t["copy_s"]
    mb = big / 1024 ** 2
    send_growth = (m["peak_kb"] - m["idle_kb"]) / 1024
    recv_growth = (recv_peak_kb - idle_kb) / 1024
    return [
        Result(name="case transfer of 10 MB between deployments", backend=db.backend, value=t["transfer_s"], unit="s",
               baseline=t["copy_s"], baseline_label="same bytes over HTTP once", ratio=ratio, target="≤ 2×",
               passed=ratio <= 2, n=1, note="blobs in signed chunks + message + mirrored case + signed receipt",
               extra={"upload_s": t["upload_s"], "message_s": t["message_s"],
                      "warm_up_transfer_s": t["warm-up"]["transfer_s"]}),
        Result(name=f"peak memory growth, federation sender, {mb:.0f} MB blob", backend=db.backend,
               value=send_growth, unit="MB",
               baseline=mb, baseline_label="blob size", ratio=send_growth / mb, target="< 100 MB",
               passed=send_growth < 100, n=1, extra={"seconds": m["seconds"], "MB_per_s": mb / m["seconds"]}),
        Result(name=f"peak memory growth, federation receiver, {mb:.0f} MB blob", backend=db.backend,
               value=recv_growth, unit="MB",
               baseline=mb, baseline_label="blob size", ratio=recv_growth / mb, target="< 100 MB",
               passed=recv_growth < 100, n=1),
    ]


if __name__ == "__main__":
    print(json.dumps(send(json.loads(sys.argv[1]))))

"""Partitions, crashes, tampering in transit and key rotation delay a transfer; they never lose it,
duplicate it or let a bad copy in."""

from __future__ import annotations

import io
import json
import os
import time

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from tests.federation.deployments import Deployment
from tests.federation.pairing import Pair


def big_pdf(megabytes: int) -> bytes:
    """A one-page PDF carrying an incompressible image of about that size (a dense colour scan)."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    c = Canvas(buf, pageCompression=0)
    c.drawImage(ImageReader(img), 0, 0, width=595, height=842)
    c.showPage()
    c.save()
    return buf.getvalue()


def refusal_count(d: Deployment, peer: str, code: str) -> int:
    rows = json.loads(d.cli("peer", "list", "--json").stdout)
    return int(next(r for r in rows if r["peer_id"] == peer)["refusals_by_code"].get(code, 0))


def test_byte_flipped_in_transit_is_refused_then_a_good_copy_gets_through(pair: Pair) -> None:
    a, b, proxy = pair.a, pair.b, pair.proxy
    case = a.receive()
    no = case["case_no"]
    flipped_before = proxy.flipped
    refused_before = refusal_count(b, "BJ", "chunk_hash_mismatch")
    proxy.arm_flip()
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    assert proxy.flipped == flipped_before + 1  # the proxy really damaged one upload
    assert refusal_count(b, "BJ", "chunk_hash_mismatch") == refused_before + 1  # refused, logged, counted
    transfer = a.transfer(no, "bj_clerk")["messages"][0]
    assert transfer["status"] == "acknowledged" and transfer["verified_files"] == 4
    assert "OK" in a.cli("verify", no).stdout
    mirror = a.transfer(no, "bj_clerk")["remote_case_no"]
    assert "OK" in b.cli("verify", mirror).stdout  # B stored the good bytes only


def test_b_killed_during_a_blob_upload_resumes_with_one_mirrored_case(pair: Pair) -> None:
    a, b, proxy = pair.a, pair.b, pair.proxy
    scan = big_pdf(12)
    case = a.receive(files=[("大幅扫描件.pdf", scan)])
    no = case["case_no"]
    sent_before = proxy.upload_bytes
    proxy.on_upload(4, b.kill)  # the 4th chunk: B dies mid-transfer (SIGKILL)
    a.event("bj_clerk", no, "precheck_pass")
    deadline = time.monotonic() + 60
    while b.proc is not None and b.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b.proc is not None and b.proc.poll() is not None, "B was not killed during the upload"
    assert a.case(no, "bj_clerk")["state"] == "prechecked"  # no receipt, no 已转递
    b.start()
    a.wait_state(no, "bj_clerk", "forwarded", timeout=300)
    info = a.transfer(no, "bj_clerk")
    mirror = info["remote_case_no"]
    assert b.case(mirror, "tj_reviewer")["state"] == "forwarded"
    listed = b.api("GET", "/api/v1/cases", "tj_reviewer", params={"q": "天津测试科技", "per_page": 500}).json()
    assert sum(1 for c in listed["items"] if c["case_no"] == mirror) == 1
    # Resumed, not restarted: the bytes sent stay well under twice what the transfer needed.
    blob_bytes = len(scan) * 2  # the scan and the packet that carries it
    assert proxy.upload_bytes - sent_before < blob_bytes * 1.6, (proxy.upload_bytes - sent_before, blob_bytes)


def test_b_rotates_its_key_during_an_open_case(pair: Pair) -> None:
    a, b = pair.a, pair.b
    case = a.receive()
    no = case["case_no"]
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    mirror = a.transfer(no, "bj_clerk")["remote_case_no"]
    old = json.loads(b.cli("federation", "init", "--json").stdout)["fingerprint"]
    rotated = json.loads(b.cli("federation", "rotate-key", "--overlap-hours", "1", "--json").stdout)
    assert rotated["fingerprint"] != old
    b.event("tj_reviewer", mirror, "accept")  # signed with B's new key; A learns it from B's identity
    a.wait_state(no, "bj_clerk", "accepted")
    lines = a.transfer(no, "bj_clerk")["messages"]
    assert [m["event"] for m in lines if m["direction"] == "in"] == ["accept"]
    assert "OK" in a.cli("verify", no).stdout
    assert "AGREE" in a.cli("federation", "verify", no).stdout

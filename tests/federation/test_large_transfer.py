"""A large packet crosses with bounded memory on both sides (100 MB here to keep the suite short;
``python -m bench --only federation`` does 500 MB). The sender is a process of its own that signs with
A's key and streams the blob from a store in resumable chunks; B is the real deployment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.federation.deployments import REPO, status_kib
from tests.federation.pairing import Pair

SIZE = 100 * 1024 * 1024


def test_100_mb_blob_crosses_with_bounded_memory_on_both_sides(pair: Pair, tmp_path: Path) -> None:
    b = pair.b
    assert b.proc is not None
    idle_kib = status_kib(b.proc.pid, "VmRSS")
    Path(f"/proc/{b.proc.pid}/clear_refs").write_text("5")  # B's peak from now on
    store = tmp_path / "sender-store"
    store.mkdir()
    args = {"keys": str(pair.a.home / "federation"), "store": str(store), "recipient": "TJ", "base": b.base,
            "what": "memory", "size": SIZE}
    out = subprocess.run([sys.executable, "-m", "bench.federation", json.dumps(args)], capture_output=True,
                         text=True, cwd=REPO, timeout=900, env=pair.a.env)
    assert out.returncode == 0, out.stderr[-3000:]
    sent = json.loads(out.stdout.strip().splitlines()[-1])
    sender_growth_mb = (sent["peak_kb"] - sent["idle_kb"]) / 1024
    receiver_growth_mb = (status_kib(b.proc.pid, "VmHWM") - idle_kib) / 1024
    print(f"100 MB blob: sender +{sender_growth_mb:.0f} MB, receiver +{receiver_growth_mb:.0f} MB, "
          f"{sent['seconds']:.1f} s")
    assert sender_growth_mb < 100, sender_growth_mb
    assert receiver_growth_mb < 100, receiver_growth_mb

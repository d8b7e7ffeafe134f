"""One human step (预审通过) in the engines a team might pick instead, beside tongban's transition.

Same run, same database, same cases (bench/data.py's received cases), one step each:

- **SpiffWorkflow** (``spiff.py``): the lifecycle as a BPMN process of user tasks; the step loads the
  instance's serialized state from a table, completes the ready user task, runs the engine, writes
  the state back (``BpmnWorkflowSerializer.serialize_json``, as its documentation persists it) and
  moves the case row — one transaction;
- **DBOS** (``dbos_peer.py``): the step as a durable ``@DBOS.workflow`` with one ``@DBOS.step`` that
  moves the case row, its checkpoints in DBOS's system tables on the same PostgreSQL database;
- **Prefect** (``prefect_peer.py``): one flow run per step, one task moving the case row — what a
  Prefect user builds first (against the bench's one temporary Prefect server).

Each peer writes the case row the way tongban's baseline does (state and version, guarded by the
version) and nothing else: no audit chain, no outbox job, no watched deadline — which is the point
of the comparison (docs/performance.md, "The peers").

The engines are optional dependencies (extra ``bench-peers``, locked in
requirements-bench-peers.lock): :func:`ensure_installed` installs them into this venv when missing.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LOCK = ROOT / "requirements-bench-peers.lock"
MODULES = {"SpiffWorkflow": "SpiffWorkflow", "dbos": "dbos"}


def missing() -> list[str]:
    return [name for name, module in MODULES.items() if importlib.util.find_spec(module) is None]


def ensure_installed() -> str | None:
    """Install the ``bench-peers`` extra (its lock, hashes checked) if a peer is missing; None or why not."""
    if not missing():
        return None
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    cmd = ([uv, "pip", "install", "-q", "--python", sys.executable] if uv
           else [sys.executable, "-m", "pip", "install", "-q"]) + ["--require-hashes", "-r", str(LOCK)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    importlib.invalidate_caches()
    if done.returncode != 0 or missing():
        return f"could not install the bench-peers extra ({' '.join(cmd)}): {done.stderr.strip()[-500:]}"
    return None

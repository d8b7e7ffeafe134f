"""The peers' figure: per-step cost of each engine beside tongban's transition, same run, same database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench import transitions
from bench.data import ReceivedCase, add_received_cases, prepare_world
from bench.runner import BenchDB, Profile, Result, console

NAME = "peers"

#: What each side guarantees per step (docs/performance.md's table says why).
GUARANTEES = {
    "tongban": "hash-chained audit event, optimistic lock, exactly-once outbox job, watched deadline, rules "
               "(role, zone, checklist) — one transaction",
    "SpiffWorkflow": "process position (BPMN token) persisted with the case row, one transaction; "
                     "no audit chain, no outbox; lock only as far as the app adds one (here: version guard)",
    "DBOS": "durable, exactly-once workflow step (checkpoint per step, resume after crash); no audit chain; "
            "the lock is the app's (version guard); the effect and its checkpoint are separate commits",
    "Prefect": "flow and task run history on the Prefect server (retries, observability); no audit chain, "
               "no lock, no outbox; the effect and the run state are separate systems",
}


@contextlib.contextmanager
def counted() -> Iterator[dict[str, int]]:
    """Statements (BEGIN excluded) and commits sent by every SQLAlchemy engine of this process."""
    seen = {"statements": 0, "commits": 0}

    def on_exec(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen["statements"] += 1

    def on_commit(conn: Any) -> None:
        seen["commits"] += 1

    event.listen(Engine, "before_cursor_execute", on_exec)
    event.listen(Engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", on_exec)
        event.remove(Engine, "commit", on_commit)


def _per_step(step: Callable[[ReceivedCase], None], cases: list[ReceivedCase]) -> float:
    start = time.perf_counter()
    for c in cases:
        step(c)
    return (time.perf_counter() - start) / len(cases)


def _statements(step: Callable[[ReceivedCase], None], cases: list[ReceivedCase]) -> float:
    with counted() as seen:
        for c in cases:
            step(c)
    return (seen["statements"] + seen["commits"]) / len(cases)


def _tongban_step(db: BenchDB) -> Callable[[ReceivedCase], None]:
    def step(c: ReceivedCase) -> None:
        transitions._service(db, [c])

    return step


def run(db: BenchDB, profile: Profile) -> list[Result]:
    from bench.peers import ensure_installed

    why_not = ensure_installed()
    if why_not:
        console.print(f"[yellow]{why_not}[/]")
        return []
    n = max(20, profile.transitions // 2)
    n_prefect = 10 if profile.name != "full" else 40
    world = prepare_world(db, applicants=50)
    peers: list[tuple[str, Callable[[ReceivedCase], None], int, Callable[[], None]]] = []

    from bench.peers.spiff import Spiff
    spiff = Spiff(db.runtime.engine)
    peers.append(("SpiffWorkflow", spiff.step, n, lambda: None))
    if db.dialect == "postgresql":
        from bench.peers.dbos_peer import Dbos
        dbos = Dbos(db.runtime.engine, db.url)
        peers.append(("DBOS", dbos.step, n, dbos.close))
    from bench.peers.prefect_peer import make_flow
    from bench.peers.prefect_peer import step as prefect_step
    flow_fn = make_flow(db.runtime.engine)
    peers.append(("Prefect", lambda c: prefect_step(flow_fn, c), n_prefect, lambda: None))

    tongban = _tongban_step(db)
    results: list[Result] = []
    closed: list[str] = []
    try:
        for name, step, count, close in peers:
            cases = add_received_cases(db, world, 2 * (count + 5 + 3))
            mine, theirs = cases[: count + 8], cases[count + 8:]
            if name == "SpiffWorkflow":
                spiff.start(theirs)
            for c in (theirs[0], mine[0]):  # warm-up: imports, first registration, statement caches
                (step if c is theirs[0] else tongban)(c)
            # Alternate halves so that a noisy neighbour hurts both sides alike.
            half = count // 2
            t_theirs = (_per_step(step, theirs[1:1 + half]) + _per_step(step, theirs[1 + half:1 + count])) / 2
            t_mine = (_per_step(tongban, mine[1:1 + half]) + _per_step(tongban, mine[1 + half:1 + count])) / 2
            s_theirs = _statements(step, theirs[1 + count:1 + count + 3])
            s_mine = _statements(tongban, mine[1 + count:1 + count + 3])
            extra: dict[str, Any] = {"peer_ms": t_theirs * 1000, "tongban_ms": t_mine * 1000,
                                     "peer_statements_per_step": s_theirs, "tongban_statements_per_step": s_mine,
                                     "peer_guarantees": GUARANTEES[name], "tongban_guarantees": GUARANTEES["tongban"]}
            if name == "SpiffWorkflow":
                extra["serialized_state_bytes"] = spiff.state_bytes(theirs[1])
            note = (f"{name}: {s_theirs:.0f} statements/step" + (" (+ Prefect API calls)" if name == "Prefect" else "")
                    + f"; tongban {s_mine:.0f}")
            console.print(f"  {name}: {t_theirs * 1000:.2f} ms/step; tongban {t_mine * 1000:.2f} ms ({note})")
            results.append(Result(
                name=f"peer: one human step, {name}", backend=db.backend, value=t_mine * 1000, unit="ms",
                baseline=t_theirs * 1000, baseline_label=f"{name}, same step, same database",
                ratio=t_mine / t_theirs, target="tongban ≤ peer (ratio ≤ 1)", passed=t_mine <= t_theirs, n=count,
                note=note, extra=extra))
            close()  # DBOS's background threads poll the database: not during the next peer's count
            closed.append(name)
    finally:
        for name, _step, _count, close in peers:
            if name not in closed:
                close()
    return results

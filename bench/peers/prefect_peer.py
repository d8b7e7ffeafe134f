"""Prefect: one flow run per human step, one task moving the case row — what a Prefect user builds first.

Run in-process against the bench's one temporary Prefect server, heartbeats off as the embedded
dispatcher runs flows (flows/dispatch.py ``in_process_settings``), so the figure is the engine's
own cost per run: creating the flow run and its task run, and their state transitions, over the API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from bench.data import ReceivedCase


def make_flow(engine: Engine) -> Any:
    from prefect import flow, task

    @task(name="move-case")
    def move_case(case_id: int, version: int) -> int:
        with engine.begin() as conn:
            return int(conn.execute(text("UPDATE cases SET state = 'prechecked', version = version + 1 "
                                         "WHERE id = :id AND version = :v"), {"id": case_id, "v": version}).rowcount)

    @flow(name="precheck-pass-step", persist_result=False)
    def precheck_pass_step(case_id: int, version: int) -> int:
        return move_case(case_id, version)

    return precheck_pass_step


def step(flow_fn: Any, c: ReceivedCase) -> None:
    from flows.dispatch import in_process_settings

    with in_process_settings():
        if flow_fn(c.id, c.version) != 1:
            raise RuntimeError(f"case {c.case_no} moved meanwhile")

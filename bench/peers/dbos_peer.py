"""DBOS: one human step as a durable workflow, its checkpoints on the same PostgreSQL database.

``precheck_pass_workflow(case_id, version)`` is a ``@DBOS.workflow`` with one ``@DBOS.step`` that moves
the case row (guarded by its version). DBOS records the workflow's status, inputs and the step's
output in its system schema (``dbos``) of the bench database, so a crash mid-way resumes it and a
repeat with the same workflow id returns the recorded result instead of running again.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, text

from bench.data import ReceivedCase


class Dbos:
    def __init__(self, engine: Engine, url: str) -> None:
        from dbos import DBOS, SetWorkflowID

        self.engine = engine
        self.set_id = SetWorkflowID
        DBOS(config={"name": "tongban-bench", "system_database_url": url, "log_level": "WARNING",
                     "run_migrations": True})

        @DBOS.step()
        def move_case(case_id: int, version: int) -> int:
            with engine.begin() as conn:
                moved = conn.execute(text("UPDATE cases SET state = 'prechecked', version = version + 1 "
                                          "WHERE id = :id AND version = :v"), {"id": case_id, "v": version})
                return int(moved.rowcount)

        @DBOS.workflow()
        def precheck_pass_workflow(case_id: int, version: int) -> int:
            return move_case(case_id, version)

        self.workflow = precheck_pass_workflow
        self.dbos = DBOS
        DBOS.launch()

    def step(self, c: ReceivedCase) -> None:
        with self.set_id(f"precheck_pass-{c.id}-{uuid.uuid4().hex[:8]}"):
            if self.workflow(c.id, c.version) != 1:
                raise RuntimeError(f"case {c.case_no} moved meanwhile")

    def close(self) -> None:
        self.dbos.destroy(destroy_registry=True)

    @staticmethod
    def workflows_recorded(engine: Engine) -> Any:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM dbos.workflow_status")).scalar_one()

"""SpiffWorkflow: the lifecycle as a BPMN process of user tasks, its state serialized per step.

Each case has one row in ``bench_spiff_instances`` holding the workflow's JSON
(``BpmnWorkflowSerializer.serialize_json``). One step: read the row, deserialize, complete the ready
user task, ``do_engine_steps``, serialize, write the row back and move the case row, in one
transaction. The process spec is parsed once (as an application would cache it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, select, text, update

from bench.data import ReceivedCase

#: The path a case takes when nothing goes wrong: one user task per human (or system) event.
STEPS = ("precheck_pass", "forward", "accept", "claim", "approve", "mail_result", "deliver")

meta = MetaData()
instances = Table("bench_spiff_instances", meta, Column("case_id", Integer, primary_key=True),
                  Column("state", Text, nullable=False))


def bpmn_xml() -> str:
    tasks = "".join(f'<bpmn:userTask id="{s}" name="{s}"/>' for s in STEPS)
    nodes = ["start", *STEPS, "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False)))
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
            'targetNamespace="http://bpmn.io/schema/bpmn">'
            '<bpmn:process id="tongban_case" isExecutable="true">'
            f'<bpmn:startEvent id="start"/>{tasks}<bpmn:endEvent id="end"/>{flows}'
            '</bpmn:process></bpmn:definitions>')


class Spiff:
    def __init__(self, engine: Any) -> None:
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
        from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

        self.engine = engine
        parser = SpiffBpmnParser()
        parser.add_bpmn_str(bpmn_xml().encode(), filename="tongban_case.bpmn")
        self.spec = parser.get_spec("tongban_case")
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.workflow_cls = BpmnWorkflow
        meta.create_all(engine)

    def start(self, cases: list[ReceivedCase]) -> None:
        """A new instance per case, run to its first user task (what 收件 would have done)."""
        rows = []
        for c in cases:
            wf = self.workflow_cls(self.spec)
            wf.do_engine_steps()
            rows.append({"case_id": c.id, "state": self.serializer.serialize_json(wf)})
        with self.engine.begin() as conn:
            conn.execute(instances.insert(), rows)

    def step(self, c: ReceivedCase, event: str = "precheck_pass") -> None:
        from SpiffWorkflow.util.task import TaskState

        with self.engine.begin() as conn:
            state = conn.execute(select(instances.c.state).where(instances.c.case_id == c.id)).scalar_one()
            wf = self.serializer.deserialize_json(state)
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            if task is None or task.task_spec.name != event:
                raise RuntimeError(f"case {c.case_no}: no ready user task {event}")
            task.data["actor"] = "bj_clerk"
            task.run()
            wf.do_engine_steps()
            conn.execute(update(instances).where(instances.c.case_id == c.id)
                         .values(state=self.serializer.serialize_json(wf)))
            moved = conn.execute(text("UPDATE cases SET state = 'prechecked', version = version + 1 "
                                      "WHERE id = :id AND version = :v"), {"id": c.id, "v": c.version}).rowcount
            if moved != 1:
                raise RuntimeError(f"case {c.case_no} moved meanwhile")

    def state_bytes(self, c: ReceivedCase) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(instances.c.state).where(instances.c.case_id == c.id)).scalar_one())

"""Every table of the code base keyed by lifecycle states, events or job kinds, gathered in one place.

``states.lifecycle.gaps(lifecycle_tables())`` is empty while each covers every state, event and job
kind of the machine; tests/states/test_lifecycle.py asserts it, so a new event fails a test until
each table has it. The web layer gathers them because it is the one layer that may import all.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from states.enums import Form
from states.lifecycle import EVENTS, JOBS, Table, own_tables

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "web" / "ui" / "templates" / "_case_actions.html"
PREFECT_YAML = ROOT / "prefect.yaml"


def template_table() -> Table:
    """Events the case page can offer: generic forms (one click, reason) or their panel's button."""
    src = TEMPLATE.read_text(encoding="utf-8")
    offered = [e.value for e, f in EVENTS.items()
               if f.form is not Form.panel
               or (f"'{f.panel}' in panels" in src and f'value="{e.value}"' in src)]
    return Table("web/ui/templates/_case_actions.html (a panel per event, states/lifecycle.py EVENTS.panel)",
                 "all_events", offered)


def prefect_table() -> Table:
    """Job kinds whose deployment (states/lifecycle.py JOBS) prefect.yaml declares."""
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    names = {d["name"] for d in spec.get("deployments", [])}
    return Table("prefect.yaml deployments", "jobs",
                 [k.value for k, f in JOBS.items() if f.deployment.split("/", 1)[1] in names])


def lifecycle_tables() -> list[Table]:
    from flows import dispatch
    from states.transition import service

    return [*own_tables(), *service.TABLES, *dispatch.TABLES, template_table(), prefect_table()]

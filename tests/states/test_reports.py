"""Supervisors' reports over a week of real cases, on SQLite and on PostgreSQL.

One story per backend, built through the real services (intake, transition service, SLA clock) in a
database of its own, so every figure below can be counted by hand from the timeline:

Beijing (BJ-ETOWN) receives QY-001 企业档案查询 for Tianjin (TJ-TEDA, 3 working days); Tianjin receives
QY-004 for Beijing. Local times (Asia/Shanghai), late November 2026 (no public holidays):

  A  received Tue 11-24 10:00, decided Thu 11-26            → on time, 2 working days, closed
  B  received Tue 11-24 11:00, decided Mon 11-30 (due 11-27) → late, 4 working days, approved
  C  received Wed 11-25, supplement requested 11-25 and received Fri 11-27 (2 paused days: due moves
     from Mon 11-30 to Wed 12-02), decided Tue 12-01        → on time, 4 − 2 = 2 working days, mailed
  D  received Thu 11-26, returned by Tianjin the same day    → paused: not counted
  E  received Tue 11-24 14:00, never pre-checked             → overdue step, late (due 11-27 passed)
  F  received Tue 12-01 09:00                                → pre-check due Wed 12-02: at risk
  G  Tianjin receives QY-004 for Beijing Mon 11-30, accepted → not due yet
  H  received Mon 11-30, rejected at the counter             → ended without a decision: not counted

"Now" is Tue 12-01 16:00.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from config import Settings
from documents import pdf_text
from states.intake.receipt import attach_files, receive_case
from states.intake.schemas import ApplicantIn, ChecklistTick, ReceiveForm
from states.intake.uploads import Upload
from states.reports import charts, exports
from states.reports import service as reports
from states.reports.assignment import reassign
from states.runtime import Runtime
from states.transition.errors import EventNotAllowed, Forbidden, PayloadInvalid, VersionConflict
from states.transition.rules import SYSTEM, Actor
from states.transition.service import apply_event, get_case
from storage.audit import service as audit
from storage.case.models import Case
from storage.catalog.models import Item
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.migrate import upgrade
from storage.user import service as users
from storage.user.models import User
from storage.zone.models import Zone
from tests.app_harness import TRACKING, USCC, FakeClock, make_pdf

SH = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"


def at(day: str, hm: str = "10:00") -> datetime:
    """A local (Shanghai) time in late 2026 as the aware UTC datetime the services take."""
    return datetime.fromisoformat(f"2026-{day}T{hm}").replace(tzinfo=SH).astimezone(UTC)


NOW = at("12-01", "16:00")


@dataclass
class Story:
    runtime: Runtime
    cases: dict[str, str]  # letter → case number
    bj: int
    tj: int

    def actor(self, username: str) -> Actor:
        return actor_of(self.runtime, username)


def actor_of(rt: Runtime, username: str) -> Actor:
    with transaction(rt.session_factory) as s:
        u = users.get_by_username(db_session=s, username=username)
        assert u is not None
        return Actor(username=u.username, role=u.role, zone_id=u.zone_id, user_id=u.id)


class _Builder:
    """The story's steps through the real services, each at the local time the story says."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def actor(self, username: str) -> Actor:
        return actor_of(self.rt, username)

    def receive(self, clerk: str, code: str, handling: str, when: datetime) -> str:
        with transaction(self.rt.session_factory) as s:
            item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                             .where(Item.code == code, Zone.code == handling)).unique().one()
            ticks = [ChecklistTick(item_material_id=m.id) for m in item.materials]
        form = ReceiveForm(item_code=code, handling_zone=handling, checklist=ticks,
                           applicant=ApplicantIn(kind="enterprise", name="天津测试科技有限公司", id_number=USCC,
                                                 phone=PHONE, address="天津市滨海新区第三大街1号"))
        return receive_case(session_factory=self.rt.session_factory, store=self.rt.store, clock=self.rt.clock,
                            actor=self.actor(clerk), form=form, uploads=[], now=when, max_bytes=10_000_000)

    def send(self, who: str | Actor, case_no: str, event: str, when: datetime, **payload: object) -> None:
        actor = who if isinstance(who, Actor) else self.actor(who)
        with transaction(self.rt.session_factory) as s:
            apply_event(db_session=s, case_no=case_no, actor=actor, event=event, version=None,
                        payload=dict(payload), now=when, clock=self.rt.clock)

    def to_review(self, clerk: str, reviewer: str, case_no: str, day: str, accept_day: str) -> None:
        """Pre-checked at 10:30 and forwarded at 11:00 on ``day``, accepted at 09:00 on ``accept_day``."""
        self.send(clerk, case_no, "precheck_pass", at(day, "10:30"))
        self.send(SYSTEM, case_no, "forward", at(day, "11:00"))
        self.send(reviewer, case_no, "accept", at(accept_day, "09:00"))

    def decide(self, reviewer: str, case_no: str, when: datetime) -> None:
        """Claimed, result document attached and approved, all at ``when``."""
        self.send(reviewer, case_no, "claim", when)
        ids = attach_files(session_factory=self.rt.session_factory, store=self.rt.store, actor=self.actor(reviewer),
                           case_no=case_no, purpose="result",
                           uploads=[Upload("准予许可决定书.pdf", io.BytesIO(make_pdf("决定书")))], now=when,
                           max_bytes=10_000_000)
        self.send(reviewer, case_no, "approve", when, result_file_id=ids[0])


def build_story(rt: Runtime) -> Story:
    b = _Builder(rt)
    c: dict[str, str] = {}
    c["A"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-24", "10:00"))
    b.to_review("bj_clerk", "tj_reviewer", c["A"], "11-24", "11-25")
    b.decide("tj_reviewer", c["A"], at("11-26", "15:00"))
    b.send("tj_reviewer", c["A"], "mail_result", at("11-26", "16:00"), carrier="EMS", tracking_no=TRACKING)
    b.send("tj_clerk", c["A"], "deliver", at("11-27", "10:00"))

    c["B"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-24", "11:00"))
    b.to_review("bj_clerk", "tj_reviewer", c["B"], "11-24", "11-25")
    b.decide("tj_reviewer", c["B"], at("11-30", "10:00"))

    c["C"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-25", "09:00"))
    with transaction(rt.session_factory) as s:
        licence = next(m.id for m in get_case(db_session=s, case_no=c["C"]).materials if m.name == "营业执照副本")
    b.send("bj_clerk", c["C"], "request_supplement", at("11-25", "12:00"),
           materials=[{"material_id": licence, "problem": "missing"}])
    b.send("bj_clerk", c["C"], "supplement", at("11-27", "10:00"))
    b.to_review("bj_clerk", "tj_reviewer", c["C"], "11-27", "11-30")
    b.decide("tj_reviewer", c["C"], at("12-01", "10:00"))
    b.send("tj_reviewer", c["C"], "mail_result", at("12-01", "11:00"), carrier="EMS", tracking_no=TRACKING)

    c["D"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-26", "09:00"))
    b.send("bj_clerk", c["D"], "precheck_pass", at("11-26", "09:30"))
    b.send(SYSTEM, c["D"], "forward", at("11-26", "10:00"))
    b.send("tj_reviewer", c["D"], "return", at("11-26", "14:00"), reason="材料扫描件不清晰")

    c["E"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-24", "14:00"))
    c["F"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("12-01", "09:00"))

    c["G"] = b.receive("tj_clerk", "QY-004", "BJ-ETOWN", at("11-30", "10:00"))
    b.to_review("tj_clerk", "bj_reviewer", c["G"], "11-30", "12-01")

    c["H"] = b.receive("bj_clerk", "QY-001", "TJ-TEDA", at("11-30", "09:00"))
    b.send("bj_clerk", c["H"], "reject", at("11-30", "10:00"), reason="不属于本事项")

    with transaction(rt.session_factory) as s:
        users.add(db_session=s, username="bj_reviewer2", display_name="北京审批二", role="reviewer",
                  zone_code="BJ-ETOWN", password="tongban-demo")
        zones = {z.code: z.id for z in s.scalars(select(Zone))}
    return Story(rt, c, bj=zones["BJ-ETOWN"], tj=zones["TJ-TEDA"])


def _runtime(home: Path, db_url: str) -> Runtime:
    settings = Settings(home=home, database_url=db_url, storage_url=f"file://{home / 'objects'}",
                        _env_file=None)  # type: ignore[call-arg]
    home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    rt = Runtime(settings, now_fn=FakeClock(NOW))
    with transaction(rt.session_factory) as s:
        seed_demo(db_session=s)
    return rt


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def story(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """A database of its own per backend, so the counts are exactly the story's."""
    home = tmp_path_factory.mktemp(f"reports-{request.param}")
    if request.param == "sqlite":
        rt = _runtime(home, f"sqlite:///{home / 'tongban.db'}")
        yield build_story(rt)
        rt.dispose()
        return
    from tests.servers import temporary_database

    with temporary_database(request.getfixturevalue("pg_server_url")) as url:
        rt = _runtime(home, url)
        yield build_story(rt)
        rt.dispose()


def test_counts_by_state_as_receiving_and_as_handling_side(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        bj = reports.state_counts(db_session=s, zone_id=story.bj)
        tj = reports.state_counts(db_session=s, zone_id=story.tj)
    beijing_window = {"closed": 1, "approved": 1, "mailed": 1, "awaiting_supplement": 1, "received": 2,
                      "rejected": 1}
    assert bj.receiving == beijing_window
    assert bj.handling == {"accepted": 1}
    assert tj.receiving == {"accepted": 1}
    # Tianjin handles all of Beijing's cases, but is party only to those forwarded to it (docs/architecture.md#party):
    # not E and F (received), nor H (rejected at the counter); D was forwarded and returned, so it is.
    assert tj.handling == {"closed": 1, "approved": 1, "mailed": 1, "awaiting_supplement": 1}


def test_on_time_rate_counts_decided_and_overdue_cases_only(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        by_item = reports.on_time_by_item(db_session=s, zone_id=story.bj, now=NOW)
        by_zone = reports.on_time_by_zone(db_session=s, zone_id=story.bj, now=NOW)
    qy1 = next(r for r in by_item if r.key == "QY-001")
    # A and C on time; B decided late; E undecided past its deadline; D paused, F not due, H rejected.
    assert (qy1.zone_code, qy1.total, qy1.on_time, qy1.late, qy1.rate) == ("TJ-TEDA", 7, 2, 2, 0.5)
    qy4 = next(r for r in by_item if r.key == "QY-004")
    assert (qy4.zone_code, qy4.total, qy4.counted, qy4.rate) == ("BJ-ETOWN", 1, 0, None)
    assert by_item[0].key == "QY-001"  # most late first
    assert [(r.key, r.on_time, r.late) for r in by_zone] == [("BJ-ETOWN", 0, 0), ("TJ-TEDA", 2, 2)]


def test_overdue_and_at_risk_lists(story: Story) -> None:
    c = story.cases
    with transaction(story.runtime.session_factory) as s:
        overdue = reports.overdue_cases(db_session=s, zone_id=story.bj, now=NOW)
        risk = reports.at_risk_cases(db_session=s, zone_id=story.bj, now=NOW, clock=story.runtime.clock)
        tj_overdue = reports.overdue_cases(db_session=s, zone_id=story.tj, now=NOW)
    assert [x.case_no for x in overdue] == [c["E"]]  # its pre-check was due Wed 11-25 17:30
    assert [x.case_no for x in tj_overdue] == []  # E was never forwarded: the handling side knows nothing of it
    # B's mail-back is due today 17:30, F's pre-check tomorrow 17:30 (the close of the next working day).
    assert [x.case_no for x in risk] == [c["B"], c["F"]]


def test_cases_received_and_decided_per_local_day(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        days = reports.daily_counts(db_session=s, zone_id=story.bj, start=date(2026, 11, 24),
                                    end=date(2026, 12, 1), tz="Asia/Shanghai")
        window = reports.daily_counts(db_session=s, zone_id=story.bj, start=date(2026, 11, 30),
                                      end=date(2026, 11, 30), tz="Asia/Shanghai", side="receiving")
    assert [(d.day.isoformat(), d.received, d.decided) for d in days] == [
        ("2026-11-24", 3, 0), ("2026-11-25", 1, 0), ("2026-11-26", 1, 1), ("2026-11-27", 0, 0),
        ("2026-11-28", 0, 0), ("2026-11-29", 0, 0), ("2026-11-30", 2, 1), ("2026-12-01", 1, 1)]
    # Received by the Beijing window that day: H (G came in at Tianjin); decided: B, which Beijing received.
    assert [(d.received, d.decided) for d in window] == [(1, 1)]


def test_annual_evaluation_per_item_with_working_days_and_reasons(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        ev = reports.annual_evaluation(db_session=s, year=2026, clock=story.runtime.clock, now=NOW,
                                       zone_id=story.bj)
        empty = reports.annual_evaluation(db_session=s, year=2025, clock=story.runtime.clock, now=NOW,
                                          zone_id=story.bj)
    assert ev.zone_code == "BJ-ETOWN"
    assert [(r.item_code, r.handling_zone, r.receiving_zone) for r in ev.rows] == [
        ("QY-001", "TJ-TEDA", "BJ-ETOWN"), ("QY-004", "BJ-ETOWN", "TJ-TEDA")]
    qy1 = ev.rows[0]
    assert (qy1.received, qy1.decided, qy1.on_time, qy1.late) == (7, 3, 2, 2)
    # A: 2 working days; B: 4; C: 4 minus 2 paused = 2.
    assert qy1.workdays_used_sum == 8 and qy1.avg_workdays_used == pytest.approx(8 / 3)
    assert qy1.promised_days == 3
    assert (qy1.supplement_cases, qy1.return_cases) == (1, 1)
    assert qy1.supplement_rate == pytest.approx(1 / 7) and qy1.return_rate == pytest.approx(1 / 7)
    assert qy1.supplement_reasons == [("营业执照副本（缺失）", 1)]
    assert qy1.return_reasons == [("材料扫描件不清晰", 1)]
    qy4 = ev.rows[1]
    assert (qy4.received, qy4.decided, qy4.avg_workdays_used, qy4.on_time_rate) == (1, 0, None, None)
    assert (ev.totals.received, ev.totals.decided, ev.totals.on_time, ev.totals.late) == (8, 3, 2, 2)
    assert empty.rows == [] and empty.totals.received == 0


def test_catalog_disagreements_find_qy002(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        found = reports.catalog_disagreements(db_session=s)
    qy2 = {d.field: d for d in found if d.code == "QY-002"}
    assert set(qy2) == {"promised_days", "materials"}
    assert qy2["promised_days"].values == {"BJ-ETOWN": "5", "TJ-TEDA": "3"}
    # a supervisor reads zones by name, in Chinese: "章程修正案（原件×1）：仅天津经济技术开发区要求"
    assert "章程修正案" in qy2["materials"].detail and "天津经济技术开发区" in qy2["materials"].detail
    assert "TJ-TEDA" not in qy2["materials"].detail
    assert qy2["promised_days"].named_values() == [("北京经济技术开发区", "5"), ("天津经济技术开发区", "3")]
    assert all(d.code != "QY-001" for d in found)  # both zones publish QY-001 identically


def test_exports_mask_pii_and_open_in_spreadsheets(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        cases = list(s.scalars(select(Case).where(Case.case_no.in_(story.cases.values())).order_by(Case.id))
                     .unique())
        csv_bytes = exports.cases_csv(cases, tz="Asia/Shanghai", now=NOW)
        xlsx = exports.cases_xlsx(cases, tz="Asia/Shanghai", now=NOW)
    assert csv_bytes.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = csv_bytes.decode("utf-8-sig")
    assert story.cases["A"] in text and "按时" in text and "超期" in text
    header = text.splitlines()[0]
    assert "承诺办结时间" in header and not re.search(r"[A-Za-z]{3,}", header), "Chinese headers only"
    assert "北京经济技术开发区" in text, "zones by name, not by code"
    assert USCC not in text and PHONE not in text and "138****5678" in text
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None
    values = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert story.cases["A"] in values and USCC not in " ".join(values)
    assert len(list(sheet.iter_rows())) == 1 + len(story.cases)


def test_evaluation_exports_as_excel_and_pdf_with_embedded_font(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        ev = reports.annual_evaluation(db_session=s, year=2026, clock=story.runtime.clock, now=NOW,
                                       zone_id=story.bj)
    book = load_workbook(io.BytesIO(exports.evaluation_xlsx(ev, tz="Asia/Shanghai")))
    first = book.worksheets[0]
    rows = list(first.iter_rows(min_row=2, max_row=3, values_only=True))
    assert rows[0][0] == "QY-001" and rows[0][4] == 7 and rows[0][8] == pytest.approx(0.5)
    assert any(r[0] == "QY-002" for r in book["同事同标差异"].iter_rows(values_only=True))
    pdf = exports.evaluation_pdf(ev, tz="Asia/Shanghai")
    text = pdf_text(pdf)
    assert "QY-001" in text and "2026" in text and "50.0%" in text
    assert "promised_days" not in text and "handling" not in text and "承诺时限" in text
    assert b"/FontFile2" in pdf  # the TrueType CJK subset travels inside the file


def test_charts_are_wellformed_svg_with_the_figures(story: Story) -> None:
    with transaction(story.runtime.session_factory) as s:
        days = reports.daily_counts(db_session=s, zone_id=story.bj, start=date(2026, 11, 24),
                                    end=date(2026, 12, 1), tz="Asia/Shanghai")
        rates = reports.on_time_by_item(db_session=s, zone_id=story.bj, now=NOW)
    svg = charts.daily_chart(days, title="收件与办结 <每日>")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    bars = [t.text for r in root.iter(f"{ns}rect") for t in r.iter(f"{ns}title")]
    assert bars == ["2026-11-24 收件 3", "2026-11-25 收件 1", "2026-11-26 收件 1",
                    "2026-11-30 收件 2", "2026-12-01 收件 1"]
    assert "&lt;每日&gt;" in svg
    assert not re.search(r"[A-Za-z]{3,}", "".join(root.itertext())), "the chart speaks Chinese only"
    rate_svg = charts.on_time_chart(rates, title="按时率", zone_names={"BJ-ETOWN": "北京经济技术开发区",
                                                                       "TJ-TEDA": "天津经济技术开发区"})
    ET.fromstring(rate_svg)
    assert "50%" in rate_svg and "QY-004" not in rate_svg  # nothing of QY-004 is counted yet
    assert "TJ-TEDA" not in rate_svg and "BJ-ETOWN" not in rate_svg, "zones by their names"


def test_supervisor_of_the_handling_zone_reassigns_with_an_audit_event(story: Story) -> None:
    g = story.cases["G"]
    boss = story.actor("bj_supervisor")
    with transaction(story.runtime.session_factory) as s:
        before = get_case(db_session=s, case_no=g).version
    with pytest.raises(VersionConflict), transaction(story.runtime.session_factory) as s:
        reassign(db_session=s, case_no=g, actor=boss, assignee="bj_reviewer2", version=before - 1, now=NOW)
    with pytest.raises(Forbidden), transaction(story.runtime.session_factory) as s:
        reassign(db_session=s, case_no=g, actor=story.actor("tj_supervisor"), assignee="bj_reviewer2",
                 version=None, now=NOW)
    with pytest.raises(PayloadInvalid), transaction(story.runtime.session_factory) as s:
        reassign(db_session=s, case_no=g, actor=boss, assignee="bj_clerk", version=None, now=NOW)
    with pytest.raises(EventNotAllowed), transaction(story.runtime.session_factory) as s:
        reassign(db_session=s, case_no=story.cases["A"], actor=story.actor("tj_supervisor"),
                 assignee="tj_reviewer", version=None, now=NOW)

    with transaction(story.runtime.session_factory) as s:
        case = reassign(db_session=s, case_no=g, actor=boss, assignee="bj_reviewer2", version=before, now=NOW,
                        reason="休假 on leave")
        assert case.version == before + 1
    with transaction(story.runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=g)
        assignee = s.get(User, case.assignee_id)
        assert assignee is not None and assignee.username == "bj_reviewer2" and case.state == "accepted"
        last = audit.list_events(db_session=s, case_id=case.id)[-1]
        assert (last.event, last.from_state, last.to_state, last.actor) == ("reassign", "accepted", "accepted",
                                                                            "bj_supervisor")
        assert last.payload == {"from": None, "to": "bj_reviewer2", "reason": "休假 on leave"}
        assert audit.verify_chain(db_session=s, case_id=case.id, case_no=g) == []


def test_alert_log_shows_each_alert_with_its_delivery_status(story: Story) -> None:
    from notifications.routes import Routes
    from states.sla.sweep import raise_due_alerts

    routes = Routes(zones={"*": {"supervisor": ("users",)}})  # supervisors hear of everything, by e-mail
    with transaction(story.runtime.session_factory) as s:
        raise_due_alerts(db_session=s, clock=story.runtime.clock, routes=routes, now=NOW, base_url="http://x")
    with transaction(story.runtime.session_factory) as s:
        bj = reports.alert_log(db_session=s, zone_id=story.bj)
        tj = reports.alert_log(db_session=s, zone_id=story.tj)
    e = story.cases["E"]
    # E's pre-check was due Wed 11-25: Beijing (receiving) hears it is overdue; Tianjin (handling) does
    # not, as E was never forwarded to it (docs/architecture.md#party) — but it hears of B's mail-back, its own step.
    assert ("precheck", "overdue", "receiving") in {(a.step, a.level, a.side) for a in bj if a.case_no == e}
    assert not [a for a in tj if a.case_no == e]
    assert tj and {a.side for a in tj} == {"handling"}
    assert all(a.deliveries == {"pending": 1} for a in bj)  # one supervisor per zone, nothing sent yet
    assert [a.raised_at for a in bj] == sorted((a.raised_at for a in bj), reverse=True)

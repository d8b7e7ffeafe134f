"""SLA health and the annual evaluation (年度评估), aggregated in SQL over one caller-owned session.

Definitions used everywhere in this module (and shown on the pages that use it):

* **Scope.** ``zone_id`` limits a report to cases that zone is party to (receiving OR handling side);
  ``None`` means every case (the system, an alliance-wide evaluation).
* **On time (按时办结).** A decided case (``decided_at`` set: approved or denied) is on time when
  ``decided_at <= due_at`` — ``due_at`` being the promised deadline as the clock left it, i.e. already
  pushed by every pause (补正, originals in the post). An undecided, open, *running* case whose
  ``due_at`` has passed is **late** already: it cannot become on time any more. Open cases not yet due,
  paused cases (``paused_since`` set: the clock stands still) and cases that ended without a decision
  (不予收件 rejected, 撤回 withdrawn) are **not counted**. Rate = on time ÷ (on time + late); ``None``
  when nothing is counted yet.
* **Overdue / at risk.** An open case whose current step target (``step_due_at``) has passed is
  overdue; one whose step target falls before the close of the next working day is at risk.
* **Working days used (实际用时).** Working days from the local day of receipt to the local day of the
  decision (``WorkCalendar.workdays_between``: the day of receipt does not count), minus the working
  days of the case's finished pauses (``case_pauses.workdays``, the clock's own count) — the same
  arithmetic as ``Clock.standing``, done once per distinct (receipt day, decision day, paused days)
  group rather than once per case. Compared with the item's *current* promised limit.
* **Evaluation cohort.** The annual evaluation of year Y covers the cases *received* in Y (local
  time). "Decided" counts those of them that have been decided (whenever). Supplement and return
  rates are cases of the cohort with at least one 一次性告知 (``request_supplement``) / 退回
  (``return``) event, divided by the cases received.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from dataclasses import field as _field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from states.sla.clock import Clock
from states.sla.overdue import overdue_clause
from states.transition.rules import party_clause
from storage.audit.models import AuditEvent
from storage.case.models import Case
from storage.catalog.models import Item
from storage.sla.models import Alert, CasePause, Delivery
from storage.zone.models import Zone

#: How a supplement notice names a material's problem, in reports.
PROBLEM_LABELS = {"missing": "缺失", "defective": "不合格"}
TOP_REASONS = 3


# --- small SQL helpers ------------------------------------------------------------------------------


def _party(zone_id: int | None, side: str | None = None) -> ColumnElement[bool]:
    """Cases the zone is party to (``rules.party_clause``), on one side or either; every case for
    ``zone_id=None`` (the alliance-wide evaluation)."""
    if zone_id is None:
        return true()
    if side not in (None, "receiving", "handling"):
        raise ValueError(f"side must be 'receiving', 'handling' or None, not {side!r}")
    return party_clause(zone_id, side)  # the one rule: the handling zone only once forwarded


def _dialect(db_session: Session) -> str:
    return db_session.get_bind().dialect.name


def _local_day(col: Any, *, dialect: str, tz: str) -> ColumnElement[Any]:
    """The local calendar day of a UTC timestamp column, computed by the database.

    PostgreSQL converts with the real zone rules. SQLite has no zone data, so it shifts by the zone's
    current UTC offset: exact for zones without daylight saving time (Asia/Shanghai is UTC+8 all year).
    """
    if dialect == "postgresql":
        return func.date(func.timezone(tz, col))
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
    return func.date(col, f"{int(offset.total_seconds() // 60):+d} minutes")


def _as_date(value: Any) -> date:
    """SQLite hands back ``'YYYY-MM-DD'`` text, PostgreSQL a ``date``."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def _on_time_sums(now: datetime) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """SUM expressions for on-time and late cases (see the module docstring for the definition)."""
    decided = Case.decided_at.is_not(None)
    on_time = func.coalesce(func.sum(sql_case((and_(decided, Case.decided_at <= Case.due_at), 1), else_=0)), 0)
    late_now = and_(Case.decided_at.is_(None), Case.closed.is_(False), Case.paused_since.is_(None),
                    Case.due_at < now)
    late = func.coalesce(func.sum(sql_case((or_(and_(decided, Case.decided_at > Case.due_at), late_now), 1),
                                           else_=0)), 0)
    return on_time, late


# --- dashboard ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCounts:
    """Cases per state, as the zone's window received them and as its authority handles them."""

    receiving: dict[str, int]
    handling: dict[str, int]


def state_counts(*, db_session: Session, zone_id: int) -> StateCounts:
    def by_state(side: str) -> dict[str, int]:
        stmt = select(Case.state, func.count()).where(_party(zone_id, side)).group_by(Case.state)
        return {state: int(n) for state, n in db_session.execute(stmt)}

    return StateCounts(receiving=by_state("receiving"), handling=by_state("handling"))


@dataclass(frozen=True)
class OnTimeRate:
    """On-time figures of one item or one zone."""

    key: str  # item code or zone code
    label: str  # item or zone name
    zone_code: str  # the handling zone (for items) or the zone itself
    total: int  # every case in scope, counted or not
    on_time: int
    late: int

    @property
    def counted(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        return self.on_time / self.counted if self.counted else None


def on_time_by_item(*, db_session: Session, zone_id: int | None, now: datetime,
                    received_since: datetime | None = None) -> list[OnTimeRate]:
    """Per catalog entry (an item as one handling zone publishes it), most late first."""
    on_time, late = _on_time_sums(now)
    stmt = (select(Item.code, Item.name, Zone.code, func.count(), on_time, late)
            .select_from(Case).join(Item, Case.item_id == Item.id).join(Zone, Item.zone_id == Zone.id)
            .where(_party(zone_id)).group_by(Item.id, Item.code, Item.name, Zone.code))
    if received_since is not None:
        stmt = stmt.where(Case.received_at >= received_since)
    rows = [OnTimeRate(code, name, zone, int(n), int(ok), int(bad))
            for code, name, zone, n, ok, bad in db_session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r.late, r.key, r.zone_code))


def on_time_by_zone(*, db_session: Session, zone_id: int | None, now: datetime, side: str = "handling",
                    received_since: datetime | None = None) -> list[OnTimeRate]:
    """Per handling zone (who is answerable for the deadline) or, with ``side='receiving'``, per window."""
    zone_col = Case.handling_zone_id if side == "handling" else Case.receiving_zone_id
    on_time, late = _on_time_sums(now)
    stmt = (select(Zone.code, Zone.name, func.count(), on_time, late)
            .select_from(Case).join(Zone, zone_col == Zone.id)
            .where(_party(zone_id)).group_by(Zone.id, Zone.code, Zone.name).order_by(Zone.code))
    if received_since is not None:
        stmt = stmt.where(Case.received_at >= received_since)
    return [OnTimeRate(code, name, code, int(n), int(ok), int(bad))
            for code, name, n, ok, bad in db_session.execute(stmt)]


def overdue_cases(*, db_session: Session, zone_id: int | None, now: datetime, limit: int = 100) -> list[Case]:
    """Open cases whose current step target has passed, longest overdue first."""
    stmt = (select(Case).where(_party(zone_id), overdue_clause(now))
            .order_by(Case.step_due_at, Case.id).limit(limit))
    return list(db_session.scalars(stmt).unique())


def at_risk_cases(*, db_session: Session, zone_id: int | None, now: datetime, clock: Clock,
                  limit: int = 100) -> list[Case]:
    """Open cases whose step target falls between now and the close of the next working day."""
    horizon = clock.due(now, 1)
    stmt = (select(Case).where(_party(zone_id), Case.closed.is_(False), Case.step_due_at >= now,
                               Case.step_due_at <= horizon)
            .order_by(Case.step_due_at, Case.id).limit(limit))
    return list(db_session.scalars(stmt).unique())


@dataclass(frozen=True)
class DayCount:
    day: date
    received: int
    decided: int


def daily_counts(*, db_session: Session, zone_id: int | None, start: date, end: date, tz: str,
                 side: str | None = None) -> list[DayCount]:
    """Cases received and decided per local day in ``[start, end]``, every day listed (zeros too)."""
    if end < start:
        raise ValueError("end is before start")
    lo, hi = _local_midnight(start, tz), _local_midnight(end + timedelta(days=1), tz)
    dialect = _dialect(db_session)

    def per_day(col: Any) -> dict[date, int]:
        day = _local_day(col, dialect=dialect, tz=tz)
        stmt = (select(day, func.count()).where(_party(zone_id, side), col >= lo, col < hi).group_by(day))
        return {_as_date(d): int(n) for d, n in db_session.execute(stmt)}

    received, decided = per_day(Case.received_at), per_day(Case.decided_at)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [DayCount(d, received.get(d, 0), decided.get(d, 0)) for d in days]


# --- catalog: 同事同标 disagreements ------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """One field on which zones' entries for the same 同事同标 item differ."""

    code: str
    field: str  # name | promised_days | materials | same_standard
    values: dict[str, str]  # zone code → that zone's value
    detail: str = ""  # in Chinese, zones by their names (a supervisor reads it, and it is exported)
    #: zone code → the zone's name, for every zone in ``values``: pages and exports show names, not codes
    zone_names: dict[str, str] = _field(default_factory=dict)  # (``field`` is the attribute above)

    def named_values(self) -> list[tuple[str, str]]:
        """(zone name, value) in the order of ``values``."""
        return [(self.zone_names.get(z, z), v) for z, v in self.values.items()]


def _material_line(m: Any) -> str:
    return f"{m.name}（{m.form}×{m.copies}{'' if m.required else '，选交'}）"


def catalog_disagreements(*, db_session: Session) -> list[Disagreement]:
    """Items published by several zones under one code, marked 同事同标 by at least one of them,
    whose name, promised limit, materials or 同事同标 flag differ. The catalog is small (hundreds of
    entries), so the comparison runs over it in Python."""
    items = list(db_session.scalars(select(Item).where(Item.active.is_(True)).order_by(Item.code)).unique())
    by_code: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_code[it.code].append(it)
    found: list[Disagreement] = []
    for code, entries in sorted(by_code.items()):
        if len(entries) < 2 or not any(e.same_standard for e in entries):
            continue
        entries.sort(key=lambda e: e.zone.code)
        zone_names = {e.zone.code: e.zone.name for e in entries}

        def differs(values: dict[str, str]) -> bool:
            return len(set(values.values())) > 1

        names = {e.zone.code: e.name for e in entries}
        if differs(names):
            found.append(Disagreement(code, "name", names, zone_names=zone_names))
        days = {e.zone.code: str(e.promised_days) for e in entries}
        if differs(days):
            found.append(Disagreement(code, "promised_days", days, zone_names=zone_names))
        lines = {e.zone.code: [_material_line(m) for m in e.materials] for e in entries}
        mats = {z: "、".join(v) for z, v in lines.items()}
        if differs(mats):
            every = {line for v in lines.values() for line in v}
            only = [f"{line}：仅{'、'.join(zone_names[z] for z, v in lines.items() if line in v)}要求"
                    for line in sorted(every) if sum(line in v for v in lines.values()) < len(lines)]
            detail = "；".join(only) if only else "材料相同，顺序不同"
            found.append(Disagreement(code, "materials", mats, detail, zone_names=zone_names))
        flags = {e.zone.code: "是" if e.same_standard else "否" for e in entries}
        if differs(flags):
            found.append(Disagreement(code, "same_standard", flags, zone_names=zone_names))
    return found


# --- the annual evaluation ----------------------------------------------------------------------------


@dataclass
class EvaluationRow:
    """One item as one zone's window received it for the handling zone, over the evaluation year."""

    item_code: str
    item_name: str
    handling_zone: str
    receiving_zone: str
    promised_days: int | None  # None on the totals row
    received: int = 0
    decided: int = 0
    on_time: int = 0
    late: int = 0
    #: Sum over decided cases of the working days used (to average, and to add up totals).
    workdays_used_sum: int = 0
    supplement_cases: int = 0
    return_cases: int = 0
    supplement_reasons: list[tuple[str, int]] = field(default_factory=list)
    return_reasons: list[tuple[str, int]] = field(default_factory=list)
    #: 一事一议 (协作机制): a one-off item accepted for one case, counted apart from the catalog's.
    adhoc: bool = False

    @property
    def on_time_rate(self) -> float | None:
        counted = self.on_time + self.late
        return self.on_time / counted if counted else None

    @property
    def avg_workdays_used(self) -> float | None:
        return self.workdays_used_sum / self.decided if self.decided else None

    @property
    def supplement_rate(self) -> float | None:
        return self.supplement_cases / self.received if self.received else None

    @property
    def return_rate(self) -> float | None:
        return self.return_cases / self.received if self.received else None


@dataclass
class Evaluation:
    year: int
    zone_code: str | None
    item_code: str | None
    generated_at: datetime
    rows: list[EvaluationRow]
    totals: EvaluationRow
    disagreements: list[Disagreement]
    #: When the year has 一事一议 cases: the totals split into catalog items and ad-hoc items.
    split_totals: list[EvaluationRow] = field(default_factory=list)
    #: zone code → name of every zone: rows keep codes (to filter and sort), pages and exports show names
    zone_names: dict[str, str] = field(default_factory=dict)

    def zone_name(self, code: str | None) -> str:
        return self.zone_names.get(code, code) if code else ""


def _top(counter: dict[str, int], n: int = TOP_REASONS) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def annual_evaluation(*, db_session: Session, year: int, clock: Clock, now: datetime, zone_id: int | None = None,
                      item_code: str | None = None) -> Evaluation:
    """年度评估: per item and receiving zone, over the cases received in ``year`` (local time)."""
    tz, dialect = clock.tz, _dialect(db_session)
    lo, hi = _local_midnight(date(year, 1, 1), tz), _local_midnight(date(year + 1, 1, 1), tz)
    cohort = [_party(zone_id), Case.received_at >= lo, Case.received_at < hi]
    if item_code:
        cohort.append(Case.item_id.in_(select(Item.id).where(Item.code == item_code)))
    key_cols = (Case.item_id, Case.receiving_zone_id)
    Key = tuple[int, int]

    on_time, late = _on_time_sums(now)
    base = (select(*key_cols, func.count(), func.count(Case.decided_at), on_time, late)
            .where(*cohort).group_by(*key_cols))
    figures: dict[Key, tuple[int, int, int, int]] = {
        (i, z): (int(n), int(d), int(ok), int(bad)) for i, z, n, d, ok, bad in db_session.execute(base)}
    zone_names = {z.code: z.name for z in db_session.scalars(select(Zone))}
    if not figures:
        empty = EvaluationRow("", "合计", "", "", None)
        return Evaluation(year, _zone_code(db_session, zone_id), item_code, now, [], empty,
                          catalog_disagreements(db_session=db_session), zone_names=zone_names)

    items = {it.id: it for it in db_session.scalars(
        select(Item).where(Item.id.in_({i for i, _ in figures}))).unique()}
    zones = {z.id: z.code for z in db_session.scalars(select(Zone))}

    # Working days used: grouped by (receipt day, decision day, paused days), so the calendar runs once
    # per distinct group, not once per case.
    paused = (select(func.coalesce(func.sum(CasePause.workdays), 0))
              .where(CasePause.case_id == Case.id, CasePause.ended_at.is_not(None))
              .correlate(Case).scalar_subquery())
    per_case = (select(Case.item_id.label("item_id"), Case.receiving_zone_id.label("zone_id"),
                       _local_day(Case.received_at, dialect=dialect, tz=tz).label("rd"),
                       _local_day(Case.decided_at, dialect=dialect, tz=tz).label("dd"), paused.label("paused"))
                .where(*cohort, Case.decided_at.is_not(None)).subquery())
    group = (per_case.c.item_id, per_case.c.zone_id, per_case.c.rd, per_case.c.dd, per_case.c.paused)
    used: dict[Key, int] = defaultdict(int)
    for i, z, rd, dd, pd, n in db_session.execute(select(*group, func.count()).group_by(*group)):
        span = clock.calendar.workdays_between(_as_date(rd), _as_date(dd))
        used[(i, z)] += int(n) * max(0, span - int(pd))

    def cases_with(event: str) -> dict[Key, int]:
        stmt = (select(*key_cols, func.count(func.distinct(AuditEvent.case_id)))
                .select_from(Case).join(AuditEvent, AuditEvent.case_id == Case.id)
                .where(*cohort, AuditEvent.event == event).group_by(*key_cols))
        return {(i, z): int(n) for i, z, n in db_session.execute(stmt)}

    supplements, returns = cases_with("request_supplement"), cases_with("return")

    return_reasons: dict[Key, dict[str, int]] = defaultdict(dict)
    reason = AuditEvent.payload["reason"].as_string()
    stmt = (select(*key_cols, reason, func.count()).select_from(Case).join(AuditEvent, AuditEvent.case_id == Case.id)
            .where(*cohort, AuditEvent.event == "return").group_by(*key_cols, reason))
    for i, z, text, n in db_session.execute(stmt):
        return_reasons[(i, z)][text or "（未写明）"] = int(n)

    supplement_reasons: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i, z, name, problem, n in db_session.execute(_supplement_materials_stmt(dialect, cohort)):
        label = f"{name}（{PROBLEM_LABELS.get(problem, problem)}）"
        supplement_reasons[(i, z)][label] += int(n)

    rows: list[EvaluationRow] = []
    for key, (n, decided, ok, bad) in figures.items():
        it = items[key[0]]
        rows.append(EvaluationRow(
            item_code=it.code, item_name=f"【一事一议】{it.name}" if it.adhoc else it.name,
            handling_zone=it.zone.code, receiving_zone=zones[key[1]],
            promised_days=it.promised_days, adhoc=it.adhoc, received=n, decided=decided, on_time=ok, late=bad,
            workdays_used_sum=used.get(key, 0), supplement_cases=supplements.get(key, 0),
            return_cases=returns.get(key, 0), supplement_reasons=_top(supplement_reasons.get(key, {})),
            return_reasons=_top(return_reasons.get(key, {})),
        ))
    rows.sort(key=lambda r: (r.item_code, r.handling_zone, r.receiving_zone))

    totals = EvaluationRow("", "合计", "", "", None)
    all_supp: dict[str, int] = defaultdict(int)
    all_ret: dict[str, int] = defaultdict(int)
    for r in rows:
        totals.received += r.received
        totals.decided += r.decided
        totals.on_time += r.on_time
        totals.late += r.late
        totals.workdays_used_sum += r.workdays_used_sum
        totals.supplement_cases += r.supplement_cases
        totals.return_cases += r.return_cases
    for counter in supplement_reasons.values():
        for k, v in counter.items():
            all_supp[k] += v
    for counter in return_reasons.values():
        for k, v in counter.items():
            all_ret[k] += v
    totals.supplement_reasons, totals.return_reasons = _top(all_supp), _top(all_ret)

    split: list[EvaluationRow] = []
    if any(r.adhoc for r in rows):
        split = [_add_up([r for r in rows if not r.adhoc], "其中：目录事项"),
                 _add_up([r for r in rows if r.adhoc], "其中：一事一议（协作机制）")]
        split[1].adhoc = True

    codes = {r.item_code for r in rows} if item_code else None
    disagreements = [d for d in catalog_disagreements(db_session=db_session) if codes is None or d.code in codes]
    return Evaluation(year, _zone_code(db_session, zone_id), item_code, now, rows, totals, disagreements, split,
                      zone_names)


def _add_up(rows: list[EvaluationRow], label: str) -> EvaluationRow:
    """A subtotal row (counts and working days; reasons stay on the item rows and the totals)."""
    out = EvaluationRow("", label, "", "", None)
    for r in rows:
        out.received += r.received
        out.decided += r.decided
        out.on_time += r.on_time
        out.late += r.late
        out.workdays_used_sum += r.workdays_used_sum
        out.supplement_cases += r.supplement_cases
        out.return_cases += r.return_cases
    return out


def _zone_code(db_session: Session, zone_id: int | None) -> str | None:
    if zone_id is None:
        return None
    zone = db_session.get(Zone, zone_id)
    return zone.code if zone else None


def _supplement_materials_stmt(dialect: str, cohort: list[ColumnElement[bool]]) -> Any:
    """(item, receiving zone, material name, problem, count) over every material listed in the
    cohort's 一次性告知 notices: the JSON array is unpacked by the database (json_each on SQLite,
    json_array_elements on PostgreSQL)."""
    name: ColumnElement[Any]
    problem: ColumnElement[Any]
    if dialect == "postgresql":
        elems = func.json_array_elements(AuditEvent.payload["materials"]).table_valued(
            "value", joins_implicitly=True).alias("m")
        name, problem = elems.c.value.op("->>")("name"), elems.c.value.op("->>")("problem")
    else:
        elems = func.json_each(AuditEvent.payload, "$.materials").table_valued(
            "value", joins_implicitly=True).alias("m")
        name, problem = func.json_extract(elems.c.value, "$.name"), func.json_extract(elems.c.value, "$.problem")
    return (select(Case.item_id, Case.receiving_zone_id, name, problem, func.count())
            .select_from(Case).join(AuditEvent, AuditEvent.case_id == Case.id).join(elems, true())
            .where(*cohort, AuditEvent.event == "request_supplement")
            .group_by(Case.item_id, Case.receiving_zone_id, name, problem))


# --- the alert log (预警记录) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertLine:
    """One alert a zone received, with how its messages fared (通知台账)."""

    raised_at: datetime
    case_no: str
    step: str
    level: str
    side: str
    due_at: datetime
    #: delivery status → number of recipients in it (``sent``, ``pending``, ``sending``, ``failed``)
    deliveries: dict[str, int]
    last_error: str | None


def alert_log(*, db_session: Session, zone_id: int, limit: int = 50) -> list[AlertLine]:
    """The zone's latest alerts, newest first, each with its deliveries counted by status in SQL."""
    alerts = db_session.execute(
        select(Alert.id, Alert.raised_at, Alert.case_no, Alert.step, Alert.level, Alert.side, Alert.due_at)
        .join(Case, Alert.case_id == Case.id).where(Alert.zone_id == zone_id, party_clause(zone_id))
        .order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)).all()
    ids = [a.id for a in alerts]
    status: dict[int, dict[str, int]] = defaultdict(dict)
    errors: dict[int, str] = {}
    if ids:
        for alert_id, st, n in db_session.execute(
                select(Delivery.alert_id, Delivery.status, func.count()).where(Delivery.alert_id.in_(ids))
                .group_by(Delivery.alert_id, Delivery.status)):
            if alert_id is not None:
                status[alert_id][st] = int(n)
        for alert_id, err in db_session.execute(
                select(Delivery.alert_id, Delivery.last_error)
                .where(Delivery.alert_id.in_(ids), Delivery.last_error.is_not(None))
                .order_by(Delivery.id)):
            if alert_id is not None and err:
                errors[alert_id] = err
    return [AlertLine(a.raised_at, a.case_no, a.step, a.level, a.side, a.due_at, status.get(a.id, {}),
                      errors.get(a.id)) for a in alerts]

"""``tongban calendar``: ask the working-day calendar about a day or a deadline.

An admin uses it after editing the override file to check that the new year reads as intended.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from states.calendar.statutory import PROVISIONAL_NOTE
from states.calendar.work_calendar import CalendarOverrideError, OfficialYear, UnknownYearError, WorkCalendar

calendar_app = typer.Typer(
    name="calendar",
    help="Mainland China working days (工作日): check a day, compute a deadline.",
    no_args_is_help=True,
)

OverrideOption = Annotated[
    Path | None,
    typer.Option(
        "--override",
        help="Calendar override file (JSON); default: the TONGBAN_CALENDAR_OVERRIDE setting.",
        dir_okay=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"error: {text!r} is not a date; write it as YYYY-MM-DD") from None


def _calendar(override: Path | None) -> WorkCalendar:
    """The file given, or the running tongban's calendar: its override file and the years an admin
    entered in the admin UI (read from its database when there is one; nothing is created)."""
    official: list[OfficialYear] = []
    if override is None:
        from web.cli import load_settings

        settings = load_settings()
        override = settings.calendar_override
        url = settings.resolved_database_url()
        if not url.startswith("sqlite") or (settings.home / "tongban.db").exists() or settings.database_url:
            official = _entered_years(url)
    try:
        return WorkCalendar(override, official=official)
    except CalendarOverrideError as exc:
        raise _fail(f"error: {exc}") from None


def _entered_years(url: str) -> list[OfficialYear]:
    from sqlalchemy.exc import DBAPIError

    from states.calendar.recompute import official_years
    from storage.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            return official_years(db_session=s)
    except DBAPIError:
        return []
    finally:
        engine.dispose()


@calendar_app.command()
def check(
    day: Annotated[str, typer.Argument(metavar="DATE", help="YYYY-MM-DD")],
    override: OverrideOption = None,
) -> None:
    """Print whether DATE is a working day and why.

    e.g. ``2026-02-14 workday — 调休 adjusted working day (春节)``
    """
    when = _parse_date(day)
    cal = _calendar(override)
    try:
        info = cal.info(when)
    except UnknownYearError as exc:
        raise _fail(f"error: {exc}") from None
    line = f"{info.day.isoformat()} {'workday' if info.workday else 'rest'} — {info.reason}"
    if info.provisional:
        line += f" [provisional: {day[:4]} is not published yet; {PROVISIONAL_NOTE}]"
    typer.echo(line)


@calendar_app.command()
def deadline(
    day: Annotated[str, typer.Argument(metavar="DATE", help="day of receipt, YYYY-MM-DD (does not count)")],
    n: Annotated[int, typer.Argument(metavar="N", help="promised time limit in working days")],
    override: OverrideOption = None,
) -> None:
    """Print the ISO date of the N-th working day after DATE (the day the time limit ends)."""
    when = _parse_date(day)
    if n < 0:
        raise _fail(f"error: N must be 0 or more, got {n}")
    cal = _calendar(override)
    try:
        end = cal.add_workdays(when, n)
    except UnknownYearError as exc:
        raise _fail(f"error: {exc}") from None
    if cal.is_provisional(end):
        typer.echo(f"{end.isoformat()} provisional (暂定: counted with the statutory holidays of {end.year}, "
                   f"not yet published; {PROVISIONAL_NOTE})")
    else:
        typer.echo(end.isoformat())


@calendar_app.command()
def recompute() -> None:
    """Recompute every provisional date now that the calendar publishes its year (the override file
    or a new chinesecalendar release; tongban also does this at start). Shows progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from states.calendar.recompute import publish
    from states.runtime import Runtime
    from web.cli import load_settings

    runtime = Runtime(load_settings())
    try:
        with Progress(TextColumn("recomputing provisional deadlines"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn()) as bar:
            task = bar.add_task("cases", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = publish(runtime, progress=step)
    except CalendarOverrideError as exc:
        raise _fail(f"error: {exc}") from None
    finally:
        runtime.dispose()
    if not report.examined:
        typer.echo("nothing to recompute: no provisional date lies in a year that is now published")
        return
    typer.echo(f"{report.examined} case(s) examined, {len(report.moved)} moved, "
               f"{report.audited} audit event(s), {len(report.notified)} person(s) notified")
    for m in report.moved[:20]:
        typer.echo(f"  {m.case_no}: {m.old_due} → {m.new_due} ({m.moved_workdays:+d} working days)")

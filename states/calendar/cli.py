"""``tongban calendar``: ask the working-day calendar about a day or a deadline.

An admin uses it after editing the override file to check that the new year reads as intended.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from states.calendar.work_calendar import CalendarOverrideError, UnknownYearError, WorkCalendar

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
    if override is None:
        from web.cli import load_settings

        override = load_settings().calendar_override
    try:
        return WorkCalendar(override)
    except CalendarOverrideError as exc:
        raise _fail(f"error: {exc}") from None


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
    typer.echo(f"{info.day.isoformat()} {'workday' if info.workday else 'rest'} — {info.reason}")


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
    typer.echo(end.isoformat())

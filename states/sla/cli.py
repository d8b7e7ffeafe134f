"""``tongban sla``: run the SLA sweep or the daily digest once (cron, an admin, a test)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

sla_app = typer.Typer(name="sla", help="Deadlines and alerts (时限预警): sweep once, daily digest.",
                      no_args_is_help=True)


def _runtime():  # type: ignore[no-untyped-def]
    from states.runtime import Runtime
    from web.cli import load_settings

    return Runtime(load_settings())


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@sla_app.command("sweep")
def sweep_cmd(deliver: Annotated[bool, typer.Option(help="Also send the messages that are due.")] = True,
              as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """Raise every alert that is due now (to both zones) and send what the ledger has due."""
    from notifications.routes import RoutesError
    from states.sla.sweep import sweep

    try:
        report = sweep(runtime=_runtime(), deliver=deliver)
    except RoutesError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        typer.echo(f"deadlines {report.deadlines}, alerts {report.alerts}, messages queued {report.queued}, "
                   f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
        for e in report.errors:
            typer.echo(f"PROBLEM  {e}")
    if report.failed or report.errors:
        raise typer.Exit(2)


@sla_app.command("digest")
def digest_cmd(zone: Annotated[list[str] | None, typer.Option(help="Zone code(s); default every zone.")] = None,
               send: Annotated[bool, typer.Option(help="Queue and send it to the digest routes.")] = True,
               lang: Annotated[str, typer.Option(help="Language of the printed digest: zh-CN or en.")] = "zh-CN",
               ) -> None:
    """Print today's digest per zone and send it to the supervisors' routes (once per zone and day)."""
    from notifications.routes import RoutesError
    from states.sla.digest import digest

    rt = _runtime()
    try:
        digests, report = digest(runtime=rt, zone_codes=zone or None, deliver=send)
    except RoutesError as exc:
        raise _fail(str(exc)) from exc
    for d in digests:
        typer.echo(d.text(lang, rt.settings.base_url))
        typer.echo("")
    if send:
        typer.echo(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
    if report.failed:
        raise typer.Exit(2)

"""`tongban`: serve, database, demo, users, catalog, verify, calendar."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from config import Settings
from federation.cli import federation_app, peer_app
from states.calendar.cli import calendar_app
from states.sla.cli import sla_app


class _Commands(TyperGroup):
    """Notes whether help was asked for anywhere on the line, so the settings check can stay away."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored click Context
        ctx.meta["tongban.help"] = "--help" in args
        return super().parse_args(ctx, args)


app = typer.Typer(help="tongban 通办 — cross-zone proxy receipt and forwarding (跨省通办 · 代收代办)",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=_Commands)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Demo data.", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
catalog_app = typer.Typer(help="The items catalog (事项目录).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(user_app, name="user")
app.add_typer(catalog_app, name="catalog")
app.add_typer(calendar_app, name="calendar")
app.add_typer(sla_app, name="sla")
app.add_typer(federation_app, name="federation")
app.add_typer(peer_app, name="peer")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def load_settings() -> Settings:
    """``Settings()``, or one clear line and exit 1 when the configuration is refused: a misspelt
    variable (``TONGBAN_MODE=distribted``, ``TONGBAN_CLOSE_OF_BUSINESS=5pm``) or an unusable secret."""
    from pydantic import ValidationError

    from config.settings import refusal

    try:
        return Settings()
    except ValidationError as exc:
        raise fail(refusal(exc)) from None


@app.callback()
def _check_settings(ctx: typer.Context) -> None:
    """Every command refuses a misspelt configuration before it does anything (help touches nothing)."""
    if ctx.resilient_parsing or ctx.meta.get("tongban.help"):
        return
    load_settings()


def _runtime():  # type: ignore[no-untyped-def]
    """The Runtime for a command that needs the schema: refuse in one line when there is none yet."""
    from sqlalchemy import inspect, make_url
    from sqlalchemy.exc import SQLAlchemyError

    from states.runtime import Runtime

    settings = load_settings()
    url = settings.resolved_database_url()
    where = url.split("@")[-1]
    hint = "run `tongban db upgrade` (or `tongban seed demo`) first"
    database = make_url(url).database
    if url.startswith("sqlite") and database and not Path(database).exists():
        raise fail(f"there is no database at {database}; {hint}")  # and do not create an empty one
    rt = Runtime(settings)
    try:
        migrated = inspect(rt.engine).has_table("alembic_version")
    except SQLAlchemyError as exc:
        raise fail(f"cannot reach the database {where}: {str(exc).strip().splitlines()[0]}") from exc
    if not migrated:
        raise fail(f"the database {where} has no tongban schema yet; {hint}")
    return rt


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version (Alembic)."""
    from storage.migrate import upgrade

    settings = load_settings()
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
    except Exception as exc:  # noqa: BLE001
        raise fail(f"cannot migrate {url.split('@')[-1]}: {exc}") from exc
    typer.echo("database is up to date")


def _seed(rotate_tokens: bool = False) -> list[dict[str, str]]:
    from storage.db import transaction
    from storage.demo.seed import seed_demo

    rt = _runtime()
    with transaction(rt.session_factory) as s:
        created = seed_demo(db_session=s, rotate_tokens=rotate_tokens)
    return [u.__dict__ for u in created]


@seed_app.command("demo")
def seed_demo_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print the accounts as JSON.")] = False
                  ) -> None:
    """Two zones (BJ-ETOWN, TJ-TEDA), 20 catalog items, one user of each role per zone."""
    _quiet_upgrade()
    users = _seed()
    if as_json:
        typer.echo(json.dumps(users, ensure_ascii=False, indent=2))
    elif users:
        _print_accounts(users)
    else:
        typer.echo("demo data already present (accounts unchanged)")


def _quiet_upgrade() -> None:
    from storage.migrate import upgrade

    settings = load_settings()
    if settings.resolved_database_url().startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())


def _print_accounts(users: list[dict[str, str]]) -> None:
    typer.echo(f"demo accounts (password for all: {users[0]['password']})")
    for u in users:
        typer.echo(f"  {u['username']:<16} {u['role']:<11} {u['zone']:<9} token {u['token']}")


@user_app.command("add")
def user_add(username: str, role: Annotated[str, typer.Option(help="clerk | reviewer | supervisor | admin")],
             zone: Annotated[str, typer.Option(help="zone code, e.g. BJ-ETOWN")],
             name: Annotated[str, typer.Option(help="display name")] = "",
             password: Annotated[str | None, typer.Option(help="login password for the web UI")] = None,
             email: str = "") -> None:
    """Add a user; prints its bearer token once."""
    from storage.db import transaction
    from storage.user import service as users

    rt = _runtime()
    try:
        with transaction(rt.session_factory) as s:
            _, token = users.add(db_session=s, username=username, display_name=name or username, role=role,
                                 zone_code=zone, password=password, email=email)
    except users.UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(token)


@user_app.command("signout")
def user_signout(username: str) -> None:
    """Sign a user out everywhere: every browser session of theirs ends at once."""
    from storage.db import transaction
    from storage.session import service as sessions
    from storage.user import service as users

    rt = _runtime()
    with transaction(rt.session_factory) as s:
        user = users.get_by_username(db_session=s, username=username)
        if user is None:
            raise fail(f"no user '{username}'")
        ended = sessions.end_all(db_session=s, user_id=user.id, now=rt.now(), reason="signout_all")
    typer.echo(f"{username}: {ended} session(s) ended")


@user_app.command("platform-admin")
def user_platform_admin(username: str,
                        revoke: Annotated[bool, typer.Option(help="take the platform role away")] = False) -> None:
    """Give an admin the platform role (edits alliance-wide settings: every zone's notification routes).

    Only here, on the server's command line: no web page grants it.
    """
    from storage.db import transaction
    from storage.user import service as users

    rt = _runtime()
    with transaction(rt.session_factory) as s:
        user = users.get_by_username(db_session=s, username=username)
        if user is None:
            raise fail(f"username: no user '{username}'")
        if user.role != "admin" and not revoke:
            raise fail(f"username: '{username}' is a {user.role}; the platform role is for admins")
        user.platform_admin = not revoke
    typer.echo(f"{username}: platform admin {'revoked' if revoke else 'granted'}")


@catalog_app.command("import")
def catalog_import(path: Path) -> None:
    """Import or update items from a JSON file (see storage/demo/catalog.json for the format)."""
    from storage.catalog.service import CatalogError, load_specs, upsert_item
    from storage.db import transaction

    rt = _runtime()
    try:
        specs = load_specs(path)
        with transaction(rt.session_factory) as s, _progress("importing items", len(specs)) as advance:
            for spec in specs:  # all or nothing: one transaction
                upsert_item(db_session=s, spec=spec)
                advance()
    except CatalogError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"imported {len(specs)} items")


@app.command("verify")
def verify(case_no: Annotated[str | None, typer.Argument(help="the case to check")] = None,
           every: Annotated[bool, typer.Option("--all", help="check every case, then print a summary")] = False,
           ) -> None:
    """Check a case's audit chain and every stored file's SHA-256 (exit 2 when anything was tampered with)."""
    from sqlalchemy import select

    from states.transition.errors import CaseNotFound
    from states.verify import verify_case
    from storage.case.models import Case
    from storage.db import transaction

    if every == (case_no is not None):
        raise fail("name one case (tongban verify CASE_NO) or check them all (tongban verify --all)")
    rt = _runtime()
    if case_no is not None:
        try:
            with transaction(rt.session_factory) as s:
                report = verify_case(db_session=s, store=rt.store, case_no=case_no)
        except CaseNotFound as exc:
            raise fail(exc.message) from exc
        for p in report.problems:
            typer.echo(f"PROBLEM  {p}")
        typer.echo(f"{case_no}: {'OK' if report.ok else 'TAMPERED'} — {report.events_checked} audit events, "
                   f"{report.files_checked} files checked, {report.licences_checked} e-licence signatures re-checked"
                   + (f", {report.receipts_checked} peer receipts checked" if report.receipts_checked else ""))
        if not report.ok:
            raise typer.Exit(2)
        return
    with transaction(rt.session_factory) as s:
        numbers = list(s.scalars(select(Case.case_no).order_by(Case.id)))
    tampered: list[str] = []
    events = files = 0
    with _progress("verifying cases", len(numbers)) as advance:
        for number in numbers:
            with transaction(rt.session_factory) as s:  # one case at a time: a long run holds no lock
                report = verify_case(db_session=s, store=rt.store, case_no=number)
            events, files = events + report.events_checked, files + report.files_checked
            if not report.ok:
                tampered.append(number)
                for p in report.problems:
                    typer.echo(f"PROBLEM  {number}: {p}")
                typer.echo(f"{number}: TAMPERED")
            advance()
    typer.echo(f"{len(numbers)} cases verified: {len(numbers) - len(tampered)} OK, {len(tampered)} TAMPERED — "
               f"{events} audit events, {files} files checked")
    if tampered:
        raise typer.Exit(2)


licence_app = typer.Typer(help="电子证照: licence types and registered issuers.", no_args_is_help=True)
app.add_typer(licence_app, name="licence")


@licence_app.command("types")
def licence_types() -> None:
    """The licence types and the issuer asked for each."""
    from licences import service as e_licence
    from storage.db import transaction

    with transaction(_runtime().session_factory) as s:
        for t in e_licence.list_types(db_session=s):
            typer.echo(f"{t.code}\t{t.name}\t{t.holder_kind}\t{t.issuer_code or '—'}")


@licence_app.command("register-issuer")
def licence_register_issuer(
    code: str,
    endpoint: Annotated[str, typer.Option(help="the issuer's service, e.g. http://127.0.0.1:8701")],
    name: Annotated[str, typer.Option(help="发证机关名称")],
    public_key: Annotated[str, typer.Option(help="Ed25519 public key, base64 (compare its fingerprint with "
                                                 "the authority's out of band)")],
    types: Annotated[str, typer.Option(help="licence types it issues, comma-separated codes or names")] = "",
    authority: str = "",
) -> None:
    """Register (or update) an issuing authority with the key its licences are verified against."""
    from licences import service as e_licence
    from licences.signing import fingerprint
    from states.transition.errors import PayloadInvalid
    from storage.db import transaction

    try:
        with transaction(_runtime().session_factory) as s:
            row = e_licence.register_issuer(db_session=s, code=code, name=name, authority=authority,
                                            public_key=public_key, endpoint=endpoint,
                                            types=[t for t in types.split(",") if t.strip()])
            typer.echo(f"registered {row.code} {row.name} at {row.endpoint}, key {fingerprint(row.public_key)}")
    except PayloadInvalid as exc:
        raise fail(f"{exc.field}: {exc.reason_zh}") from exc


@contextlib.contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr while long work runs — only on a terminal: piped or captured
    output (scripts, tests) stays exactly the lines the command prints."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


shipment_app = typer.Typer(help="Result shipments in the post (结果寄递).", no_args_is_help=True)
app.add_typer(shipment_app, name="shipment")


@shipment_app.command("delivered")
def shipment_delivered(
    tracking_no: Annotated[str, typer.Argument(help="UPU S10 tracking number, e.g. RR473124829GB")],
    case: Annotated[str | None, typer.Option("--case", help="the case, when a number is on several")] = None,
    at: Annotated[str | None, typer.Option(help="when the carrier delivered (ISO 8601; default now)")] = None,
    by: Annotated[str, typer.Option(help="who confirms (courier desk, carrier feed)")] = "courier desk",
) -> None:
    """妥投确认: the carrier confirmed delivery; the mail-back flow then closes the case (办结)."""
    from datetime import datetime

    from states.shipments.service import ConfirmationError, record_carrier_confirmation
    from storage.db import transaction

    rt = _runtime()
    now = rt.now()
    try:
        when = datetime.fromisoformat(at) if at else now
    except ValueError as exc:
        raise fail(f"--at {at!r} is not an ISO 8601 time: {exc}") from exc
    if when.tzinfo is None:
        from zoneinfo import ZoneInfo

        when = when.replace(tzinfo=ZoneInfo(rt.settings.timezone))
    try:
        with transaction(rt.session_factory) as s:
            case_no = record_carrier_confirmation(db_session=s, tracking_no=tracking_no, confirmed_at=when,
                                                  confirmed_by=by, now=now, case_no=case)
    except ConfirmationError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{case_no}: delivery of {tracking_no.upper()} confirmed; the case closes when the mail-back flow runs")


@app.command("dispatch")
def dispatch(
    once: Annotated[bool, typer.Option("--once", help="one round, then exit")] = False,
    workers: Annotated[int, typer.Option(help="dispatch loops in this process")] = 2,
    interval: Annotated[float, typer.Option(help="seconds between rounds when idle")] = 2.0,
) -> None:
    """Hand outbox jobs to Prefect deployments (distributed) or run them here (embedded); mark them done."""
    import signal

    from flows import runtime as flow_runtime
    from flows.dispatch import Dispatcher, dispatch_once

    rt = _runtime()
    flow_runtime.use(rt)
    mode = rt.settings.mode
    if once:
        done = dispatch_once(rt)
        typer.echo(f"{done} outbox jobs finished (mode: {mode})")
        return
    loops = [Dispatcher(rt, interval=interval, periodic=(mode == "embedded" and i == 0), name=f"dispatcher-{i}")
             for i in range(max(1, workers))]

    def stop(*_: object) -> None:
        for loop in loops:
            loop.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"tongban dispatcher: {len(loops)} loops, mode {mode}; Ctrl-C or SIGTERM to stop")
    for loop in loops:
        loop.start()
    for loop in loops:
        while loop.is_alive():
            loop.join(timeout=1)
    rt.dispose()


@app.command("reconcile")
def reconcile_cmd(
    stuck_after: Annotated[float, typer.Option(help="minutes in an automated step before it counts as stuck")] = 15,
    orphan_age: Annotated[float, typer.Option(help="minutes before an unreferenced upload is removed")] = 60,
    temp_age: Annotated[float | None, typer.Option(
        help="seconds before a temporary file left by a crash is removed (default: TONGBAN_TEMP_MAX_AGE_SECONDS)")
    ] = None,
) -> None:
    """对账 once: redo failed/stuck automated steps, remove uploads an interrupted receipt left behind."""
    from flows.reconcile import RECONCILE_SWEEPS, reconcile_plain

    rt = _runtime()
    with _progress("reconciling", len(RECONCILE_SWEEPS)) as advance:
        report = reconcile_plain(rt, stuck_after_minutes=stuck_after, orphan_age_minutes=orphan_age,
                                 temp_max_age_seconds=temp_age, progress=advance)
    for line in report.redispatched:
        typer.echo(f"re-dispatched   {line}")
    for line in report.needs_attention:
        typer.echo(f"NEEDS ATTENTION {line}")
    for key in report.orphans_deleted:
        typer.echo(f"orphan removed  {key}")
    for name in report.temp_files_removed:
        typer.echo(f"temp removed    {name}")
    typer.echo(f"{len(report.redispatched)} re-dispatched, {len(report.needs_attention)} need attention, "
               f"{len(report.temp_files_removed)} temporary files removed, "
               f"{len(report.orphans_deleted)} orphans removed")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000,
          demo: Annotated[bool, typer.Option(help="Seed the demo zones, catalog and accounts first.")] = True,
          ) -> None:
    """Run the API and UI (embedded: SQLite, filesystem store, flows in-process)."""
    settings = load_settings()
    if settings.mode == "embedded":  # Prefect's API starts beside the rest, not in the first flow run
        from flows import prefect_api

        prefect_api.start(settings.prefect_api, home=settings.home)
    import uvicorn

    from web.app import create_app

    if demo:  # the sign-in page may then show the demo password
        settings = settings.model_copy(update={"demo": True})
    # The closed network here and at most windows: Prefect's telemetry would only log errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        _quiet_upgrade()
        if demo:
            _print_accounts(_seed(rotate_tokens=True))
    except Exception as exc:  # noqa: BLE001
        raise fail(f"cannot prepare the database: {exc}") from exc
    from web.children import end_children, exit_on_sigterm

    typer.echo(f"tongban serving on http://{host}:{port}  (mode: {settings.mode}, data: {settings.home})")
    exit_on_sigterm()  # uvicorn re-raises SIGTERM after shutting down: an exit, so the finally below runs
    try:
        # X-Forwarded-* believed from TONGBAN_TRUSTED_PROXIES only (uvicorn's own default trusts 127.0.0.1).
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    forwarded_allow_ips=settings.trusted_proxies or "")
    finally:
        end_children()  # Prefect's temporary server(s), also one that timed out at start


def main() -> None:  # pragma: no cover
    sys.exit(app())

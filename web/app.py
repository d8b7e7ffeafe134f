"""The FastAPI application: REST API under /api/v1 and the server-rendered UI under /ui."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from config import Settings
from flows import runtime as flow_runtime
from states.runtime import Runtime
from web import hardening, ui
from web.api import adhoc, alerts, cases, catalog, docs, errors, kiosk, shipments
from web.limits import BodyLimit


def _calendar_published_since_last_start(runtime: Runtime) -> None:
    """A new chinesecalendar release (or override file) now publishes a year that provisional dates
    were counted in: recompute them once, at start (states/calendar/recompute.py)."""
    from sqlalchemy.exc import DBAPIError

    from states.calendar import CalendarOverrideError
    from states.calendar.recompute import publish

    try:
        report = publish(runtime)
    except (DBAPIError, CalendarOverrideError) as exc:  # not migrated yet / a broken file (said where used)
        logging.getLogger("tongban.calendar").warning("calendar check at start skipped: %s", exc)
        return
    if report.moved:
        logging.getLogger("tongban.calendar").info("calendar recompute at start: %d case(s) moved", len(report.moved))


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               run_dispatcher: bool | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings or Settings())
    embedded = runtime.settings.mode == "embedded"
    dispatch_here = embedded if run_dispatcher is None else run_dispatcher

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _calendar_published_since_last_start(runtime)
        dispatcher = None
        if dispatch_here:
            from flows.dispatch import EmbeddedDispatcher

            flow_runtime.use(runtime)
            dispatcher = EmbeddedDispatcher(runtime)
            dispatcher.start()
            from flows.sla import SlaSweeper  # the SLA sweep on a timer (distributed: a Prefect schedule)

            sweeper = SlaSweeper(runtime)
            sweeper.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                sweeper.stop()
                dispatcher.stop()
                dispatcher.join(timeout=30)

    docs_access = runtime.settings.api_docs_access()
    app = FastAPI(title="tongban 通办", version="0.1.0", lifespan=lifespan,
                  description="跨省通办 · 代收代办: cross-zone proxy receipt and forwarding of offline materials",
                  **docs.fastapi_kwargs(docs_access))
    app.state.runtime = runtime
    # Security headers on every response (outside the error middleware too); access log masked.
    hardening.install(app, trusted_proxies=runtime.settings.trusted_proxies,
                      hsts_max_age=runtime.settings.hsts_max_age)
    errors.install(app)
    docs.install(app, docs_access)
    app.include_router(cases.router)
    ui.install(app)  # after errors.install: UI error pages delegate to the JSON handlers outside /ui
    app.include_router(catalog.router)
    app.include_router(shipments.router)
    app.include_router(alerts.router)
    app.include_router(kiosk.router)
    app.include_router(adhoc.router)
    from federation import views as federation_views  # /federation/v1: peer deployments (docs/federation.md)

    app.include_router(federation_views.router)
    app.include_router(federation_views.case_router)
    if runtime.settings.federation_id:  # the signing key is made on first start (0600, outside the database)
        from federation.transfer import identity

        identity(runtime.settings)

    # Outermost: an over-size body is refused before any other layer (or the multipart parser) reads it.
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_request_bytes)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"ok": True, "mode": runtime.settings.mode}

    return app

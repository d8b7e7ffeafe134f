"""One JSON shape for every refusal: ``{"error": code, "message": ..., ...detail}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from documents.errors import MATERIAL_ERROR_STATUS, MaterialError
from states.calendar import UnknownYearError
from states.transition.errors import TransitionError
from storage.objects.base import ObjectStoreUnavailable

log = logging.getLogger("tongban.api")


#: ``error`` codes of plain HTTP refusals (routing, authentication, the body's framing).
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
              415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """401 without a token, 404 for an unknown path, 405, a multipart body that cannot be parsed …:
    the same ``{"error", "message"}`` shape as every other refusal (not FastAPI's ``{"detail"}``)."""
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such path: {request.url.path}"
    return JSONResponse({"error": HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"), "message": message},
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]

    @app.exception_handler(UnicodeDecodeError)
    async def _encoding(request: Request, exc: UnicodeDecodeError) -> JSONResponse:
        return JSONResponse({"error": "invalid_encoding",
                             "message": f"the request is not valid UTF-8 (byte {exc.start}): nothing was saved"},
                            status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal", "message": "an unexpected error; nothing was kept — try again "
                             "or call support"}, status_code=500)

    @app.exception_handler(TransitionError)
    async def _transition(request: Request, exc: TransitionError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "message": exc.message, **exc.detail}, status_code=exc.status)

    @app.exception_handler(MaterialError)
    async def _material(request: Request, exc: MaterialError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_file", "file": exc.filename, "reason": exc.code, "message": exc.message,
             "message_zh": exc.message_zh},
            status_code=MATERIAL_ERROR_STATUS.get(exc.code, 422),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"]}
                  for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "reason": "invalid request"}
        return JSONResponse({"error": "invalid", "message": f"{first['field']}: {first['reason']}",
                             "field": first["field"], "errors": errors}, status_code=422)

    @app.exception_handler(UnknownYearError)
    async def _calendar(request: Request, exc: UnknownYearError) -> JSONResponse:
        return JSONResponse({"error": "calendar_unknown_year", "message": str(exc)}, status_code=503)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"error": "database_unavailable",
                             "message": "the database cannot be reached; nothing was saved — try again shortly"},
                            status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # The last line of defence (routes bound their numbers): a value the database cannot hold —
        # an integer beyond 64 bits (SQLite's OverflowError, PostgreSQL's out of range), a NUL in a text.
        log.warning("value refused by the database on %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)
        return JSONResponse({"error": "invalid", "message": "a value in the request is out of range or cannot "
                             "be stored (nothing was changed)"}, status_code=422)

    @app.exception_handler(SQLAlchemyError)
    async def _db_refused(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.exception("database refused %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal", "message": "the server could not save this request; nothing was "
                             "kept (the transaction was rolled back) — try again or call support"}, status_code=500)

    @app.exception_handler(ObjectStoreUnavailable)
    async def _store(request: Request, exc: ObjectStoreUnavailable) -> JSONResponse:
        return JSONResponse({"error": "store_unavailable", "message": str(exc)}, status_code=503,
                            headers={"Retry-After": "30"})

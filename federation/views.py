"""``/federation/v1``: what a peer deployment calls (docs/federation.md). Thin: the work is in receive.py.

Every answer is JSON; a refusal is ``{"refused": <code>, "detail": …, "detail_zh": …}`` with a 4xx
status, never a 500. Only signed requests are believed: messages carry their signature, blob uploads
and queries a signed ``X-Tongban-Token`` header.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from federation import receive
from federation.enums import Refusal
from federation.envelope import Refused
from federation.transfer import identity, identity_document
from states.runtime import Runtime
from storage.db import transaction
from web.auth import ActorDep

router = APIRouter(prefix="/federation/v1", tags=["federation"])

SHA256 = re.compile(r"[0-9a-f]{64}")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _federated(runtime: Runtime) -> None:
    if not runtime.settings.federation_id:
        raise Refused(Refusal.wrong_recipient, "this deployment is not federated (TONGBAN_FEDERATION_ID unset)",
                      status=404)


def _refusal(runtime: Runtime, exc: Refused, sender: str = "") -> JSONResponse:
    with transaction(runtime.session_factory) as s:
        from federation import service as peers

        peers.record_refusal(db_session=s, peer_id=sender, refused=exc, now=runtime.now())
    return JSONResponse(exc.as_json(), status_code=exc.status)


def _sha(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise Refused(Refusal.malformed, "a blob is named by its SHA-256 in lower-case hex", status=400)
    return sha256


@router.get("/identity")
def get_identity(request: Request) -> Any:
    """This deployment's id and public keys with their validity, signed by every valid key."""
    runtime = _runtime(request)
    try:
        _federated(runtime)
    except Refused as exc:
        return JSONResponse(exc.as_json(), status_code=exc.status)
    return identity_document(identity(runtime.settings))


@router.get("/catalog")
def get_catalog(request: Request) -> Any:
    """The items of the zones this deployment hosts, signed (catalog exchange)."""
    from federation.catalog import published

    runtime = _runtime(request)
    try:
        _federated(runtime)
    except Refused as exc:
        return JSONResponse(exc.as_json(), status_code=exc.status)
    with transaction(runtime.session_factory) as s:
        return published(db_session=s, ident=identity(runtime.settings))


@router.post("/messages")
async def post_message(request: Request) -> Any:
    runtime = _runtime(request)
    try:
        _federated(runtime)
        raw = await request.json()
    except Refused as exc:
        return JSONResponse(exc.as_json(), status_code=exc.status)
    except ValueError:
        return await run_in_threadpool(_refusal, runtime, Refused(Refusal.malformed, "the body is not JSON"))
    answer = await run_in_threadpool(receive.receive, runtime, raw)
    return JSONResponse(answer.body, status_code=answer.status)


def _blob_peer(runtime: Runtime, token: str | None, sha256: str, **claims: Any) -> None:
    with transaction(runtime.session_factory) as s:
        receive.verify_token(s, runtime, token, "blob", runtime.now(), sha256=sha256, **claims)


@router.get("/blobs/{sha256}")
def get_blob(request: Request, sha256: str, size: int | None = Query(None),
             x_tongban_token: str | None = Header(None)) -> Any:
    """How much of a blob is here: resume the upload from ``received``."""
    runtime = _runtime(request)
    try:
        _federated(runtime)
        _blob_peer(runtime, x_tongban_token, _sha(sha256))
        return receive.blob_status(runtime, sha256, size)
    except Refused as exc:
        return _refusal(runtime, exc)


@router.put("/blobs/{sha256}")
async def put_blob(request: Request, sha256: str, offset: int = Query(..., ge=0), size: int = Query(..., ge=0),
                   x_tongban_token: str | None = Header(None)) -> Any:
    """One chunk at ``offset``; its SHA-256 is a claim of the signed token (a flipped byte is refused)."""
    runtime = _runtime(request)
    sender = ""
    try:
        _federated(runtime)
        from federation.envelope import parse_token

        claims = parse_token(x_tongban_token or "")[0] if x_tongban_token else {}
        chunk_sha, sender = str(claims.get("chunk_sha256", "")), str(claims.get("sender", ""))
        await run_in_threadpool(_blob_peer, runtime, x_tongban_token, _sha(sha256), offset=offset, size=size,
                                chunk_sha256=chunk_sha)
    except Refused as exc:
        return await run_in_threadpool(_refusal, runtime, exc, sender)
    try:
        status = await run_in_threadpool(receive.blob_status, runtime, sha256, size)
        if status["complete"]:
            return status
        if offset != status["received"]:
            raise Refused(Refusal.bad_offset, f"the blob has {status['received']} bytes here; send from there",
                          status=409)
    except Refused as exc:
        return await run_in_threadpool(_refusal, runtime, exc, sender)
    # Appended in place as it streams in (bounded memory whatever the size), hashed twice on the way: the
    # chunk's own hash (the signed token names it) and the blob's running hash. A bad chunk is cut off again.
    running = receive.running_hash(sha256, offset)
    await run_in_threadpool(receive.truncate, runtime, sha256, offset)  # an unverified tail a crash left
    h, n, too_long = hashlib.sha256(), 0, False
    with receive.part_path(runtime, sha256).open("ab") as out:
        async for piece in request.stream():
            h.update(piece)
            n += len(piece)
            if offset + n > size:
                too_long = True
                break
            out.write(piece)
            if running is not None:
                running.update(piece)
    try:
        if too_long or h.hexdigest() != chunk_sha:
            await run_in_threadpool(receive.truncate, runtime, sha256, offset)
            raise Refused(Refusal.chunk_hash_mismatch, f"chunk at {offset} ({n} bytes) does not match its SHA-256")
        return await run_in_threadpool(receive.chunk_appended, runtime, sha256, size, offset + n, running)
    except Refused as exc:
        return await run_in_threadpool(_refusal, runtime, exc, sender)


@router.get("/cases/{case_ref}/head")
def get_head(request: Request, case_ref: str, x_tongban_token: str | None = Header(None)) -> Any:
    """Our side of a shared case, signed: state, chain head, every message exchanged."""
    runtime = _runtime(request)
    try:
        _federated(runtime)
        with transaction(runtime.session_factory) as s:
            peer = receive.verify_token(s, runtime, x_tongban_token, "head", runtime.now(), case_ref=case_ref)
            return receive.chain_head(runtime, peer, s, case_ref)
    except Refused as exc:
        return _refusal(runtime, exc)


# --- for the zone's own users: the transfer of a case (the case page, the API) --------------------------

case_router = APIRouter(prefix="/api/v1", tags=["federation"])


@case_router.get("/cases/{case_no}/federation")
def case_transfer(case_no: str, request: Request, actor: ActorDep) -> Any:
    """The case's transfer to or from a peer deployment: messages, receipts (who, when, key), failures."""
    from dataclasses import asdict

    from federation import service as peers
    from states.transition import service as transitions
    from states.transition.errors import CaseNotFound

    runtime = _runtime(request)
    with transaction(runtime.session_factory) as s:
        try:
            case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        except CaseNotFound:
            return JSONResponse({"detail": f"case {case_no} does not exist"}, status_code=404)
        info = peers.case_federation(db_session=s, case_id=case.id)
        return {"shared": info is not None, **(asdict(info) if info else {})}

"""Who is calling: a bearer token (machine clients, tests) or the UI's session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from states.runtime import Runtime
from states.transition.rules import Actor
from storage.db import transaction
from storage.user import service as users

bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def actor_from_token(runtime: Runtime, token: str) -> Actor | None:
    with transaction(runtime.session_factory) as s:
        user = users.get_by_token(db_session=s, token=token)
        if user is None:
            return None
        return Actor(username=user.username, role=user.role, zone_id=user.zone_id, user_id=user.id)


def current_actor(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  runtime: Annotated[Runtime, Depends(get_runtime)]) -> Actor:
    if creds is not None:
        actor = actor_from_token(runtime, creds.credentials)
        if actor is None:
            raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return actor
    session_actor = getattr(request.state, "actor", None)
    if isinstance(session_actor, Actor):
        return session_actor
    raise HTTPException(401, "sign in or send a bearer token", headers={"WWW-Authenticate": "Bearer"})


ActorDep = Annotated[Actor, Depends(current_actor)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

"""Issuers behind one small interface: fetch a signed licence, fetch the signed revocation list.

tongban never trusts an adapter: whatever it returns is verified (``licences.verify``) against the
key registered in tongban for the issuer the licence names. An adapter only carries bytes, so one to
the national platform's licence service (全国一体化政务服务平台 电子证照共享服务) implements the same
two calls — see docs/e-licences.md for what it must map.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class IssuerUnreachable(Exception):
    """The issuer's service did not answer (down, timed out, refused, answered garbage)."""


class LicenceNotFound(Exception):
    """The issuer answered: it has no licence of that type and number."""


class LicenceIssuer(Protocol):
    """What tongban asks of any issuing authority's service."""

    def fetch(self, licence_type: str, number: str) -> dict[str, Any]:
        """The signed licence ``{"licence": {...}, "signature": {...}}``; raises the two errors above."""
        ...

    def revocations(self) -> dict[str, Any]:
        """The signed revocation list ``{"revocations": {...}, "signature": {...}}``."""
        ...


class HttpIssuer:
    """The JSON-over-HTTP issuer of ``licences.issuer`` (and any authority speaking the same routes)."""

    def __init__(self, endpoint: str, *, timeout: float = 5.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return httpx.get(self.endpoint + path, params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise IssuerUnreachable(f"{self.endpoint}: {exc.__class__.__name__}: {exc}") from exc

    @staticmethod
    def _json(r: httpx.Response) -> dict[str, Any]:
        if r.status_code != 200:
            raise IssuerUnreachable(f"{r.request.url}: HTTP {r.status_code}")
        try:
            body = r.json()
        except ValueError as exc:
            raise IssuerUnreachable(f"{r.request.url}: not JSON") from exc
        if not isinstance(body, dict):
            raise IssuerUnreachable(f"{r.request.url}: not a JSON object")
        return body

    def fetch(self, licence_type: str, number: str) -> dict[str, Any]:
        r = self._get("/licences", {"type": licence_type, "number": number})
        if r.status_code == 404:
            raise LicenceNotFound(number)
        return self._json(r)

    def revocations(self) -> dict[str, Any]:
        return self._json(self._get("/revocations"))

    def about(self) -> dict[str, Any]:
        """The issuer's own description and public key (for registering it; never trusted to verify)."""
        return self._json(self._get("/.well-known/licence-issuer"))


#: Registered issuers name their adapter by this key (``licence_issuers.adapter``).
ADAPTERS: dict[str, type[HttpIssuer]] = {"http": HttpIssuer}


def adapter_for(kind: str, endpoint: str, *, timeout: float = 5.0) -> LicenceIssuer:
    try:
        return ADAPTERS[kind](endpoint, timeout=timeout)
    except KeyError:
        raise IssuerUnreachable(f"no adapter of kind '{kind}'") from None

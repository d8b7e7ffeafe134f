"""A self-contained issuing authority (发证机关) for e-licences: ``python -m licences.issuer``.

It stands in, for the demo and the tests, for a licence authority's own service: it holds a register
of licences (a JSON file), signs each one it hands out with its Ed25519 key, and publishes its public
key and a signed revocation list (吊销/注销清单). It shares only :mod:`licences.signing` with tongban.

Routes (all JSON, UTF-8):

- ``GET /.well-known/licence-issuer`` — ``{code, name, authority, algorithm, public_key, key_id}``
- ``GET /licences?type=CODE&number=NO`` — the signed licence, or 404 ``{"error": "not_found"}``
- ``GET /revocations`` — the signed revocation list

The register file::

    {"issuer": {"code": "TJ-SCJG", "name": "…", "authority": "…"},
     "licences": [{"type": "yyzz", "type_name": "营业执照", "number": "…",
                   "holder": {"name": "…", "id_number": "…"}, "valid_from": "2020-01-01",
                   "valid_until": "2040-12-31" | null, "fields": {"法定代表人": "…"}}],
     "revoked": [{"type": "yyzz", "number": "…", "revoked_on": "2026-01-05", "reason": "…"}]}

Two demo switches on a licence entry exist only to let tongban's refusals be shown end to end:
``"claims_issuer": "X"`` signs a licence that names another authority as its issuer, and
``"tampered": true`` alters the holder's name after signing (a licence changed on its way).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licences.signing import ALGORITHM, LICENCE_SCHEMA, REVOCATIONS_SCHEMA, fingerprint, public_key_text, sign


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The authority's signing key (PEM, PKCS#8); made on first start and kept (mode 0600)."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SystemExit(f"{path}: not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key


class Register:
    """The licences this authority issued, read from its file on every request (edits show at once)."""

    def __init__(self, path: Path, key: Ed25519PrivateKey) -> None:
        self.path, self.key = path, key
        self._lock = threading.Lock()

    def data(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(self.path.read_text(encoding="utf-8"))

    def about(self) -> dict[str, Any]:
        issuer = self.data()["issuer"]
        pub = public_key_text(self.key.public_key())
        return {**issuer, "algorithm": ALGORITHM, "public_key": pub, "key_id": fingerprint(pub)}

    def licence(self, licence_type: str, number: str) -> dict[str, Any] | None:
        data = self.data()
        for entry in data.get("licences", []):
            if entry.get("type") == licence_type and entry.get("number") == number:
                body = {
                    "schema": LICENCE_SCHEMA, "issuer": entry.get("claims_issuer") or data["issuer"]["code"],
                    "issuer_name": data["issuer"]["name"], "type": entry["type"],
                    "type_name": entry.get("type_name", entry["type"]), "number": entry["number"],
                    "holder": entry["holder"], "valid_from": entry.get("valid_from"),
                    "valid_until": entry.get("valid_until"), "issued_on": entry.get("issued_on"),
                    "fields": entry.get("fields", {}),
                }
                signed = sign("licence", body, self.key)
                if entry.get("tampered"):
                    signed["licence"]["holder"] = {**body["holder"], "name": body["holder"]["name"] + "（改）"}
                return signed
        return None

    def revocations(self) -> dict[str, Any]:
        data = self.data()
        body = {"schema": REVOCATIONS_SCHEMA, "issuer": data["issuer"]["code"],
                "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "entries": [{"type": r["type"], "number": r["number"], "revoked_on": r.get("revoked_on"),
                             "reason": r.get("reason", "")} for r in data.get("revoked", [])]}
        return sign("revocations", body, self.key)


def handler_for(register: Register) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tongban-licence-issuer/1"

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            try:
                if url.path == "/.well-known/licence-issuer":
                    return self._send(200, register.about())
                if url.path == "/revocations":
                    return self._send(200, register.revocations())
                if url.path == "/licences":
                    if not query.get("type") or not query.get("number"):
                        return self._send(400, {"error": "bad_request", "message": "type and number are required"})
                    found = register.licence(query["type"], query["number"])
                    return self._send(200, found) if found else self._send(404, {"error": "not_found"})
                return self._send(404, {"error": "no_such_route"})
            except (OSError, ValueError, KeyError) as exc:  # a broken register file: say so, stay up
                return self._send(500, {"error": "register_unreadable", "message": str(exc)})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
            sys.stderr.write("issuer: " + (format % args) + "\n")

    return Handler


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m licences.issuer", description="电子证照发证机关 (demo issuer)")
    p.add_argument("--register", type=Path, required=True, help="the licences file (JSON)")
    p.add_argument("--key", type=Path, required=True, help="the Ed25519 private key (PEM; made if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8701, help="0: any free port")
    args = p.parse_args(argv)
    register = Register(args.register, load_or_create_key(args.key))
    about = register.about()  # fails now, not on the first request, when the file is broken
    server = ThreadingHTTPServer((args.host, args.port), handler_for(register))
    port = server.server_address[1]
    # One line on stdout that a starter (the tests, a demo script) reads: where and with which key.
    print(json.dumps({"endpoint": f"http://{args.host}:{port}", "code": about["code"],
                      "public_key": about["public_key"], "key_id": about["key_id"]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""A stand-in for a kiosk's ID-card reader (二代身份证读卡器): the small local HTTP interface the kiosk
page polls, run by the tests as a real process on loopback.

``GET /card`` answers the card on the reader (``{"present": true, "name", "id_number", "address"}``)
or ``{"present": false}``; ``POST /insert`` (a JSON card) and ``POST /remove`` are the test's hands.
Like a real reader's driver service it allows the kiosk page (another origin) to read it (CORS).

    python -m tests.web.ui.kiosk_reader PORT
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CARD: dict[str, Any] = {}


class Reader(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/card":
            self._answer(404, {"error": "not_found"})
            return
        self._answer(200, {"present": True, **CARD} if CARD else {"present": False})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/insert":
            CARD.clear()
            CARD.update({k: str(body.get(k, "")) for k in ("name", "id_number", "address")})
        elif self.path == "/remove":
            CARD.clear()
        else:
            self._answer(404, {"error": "not_found"})
            return
        self._answer(200, {"ok": True})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Reader)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

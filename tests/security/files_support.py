"""Hostile files made on the spot, an independent check for active content, and a real server process.

The hostile PDFs are written with pypdf the way an attacker would: document JavaScript, an
``/OpenAction`` script, page ``/AA`` scripts, ``/Launch`` and ``/JavaScript`` links, an embedded file
and an XFA form. :func:`active_parts` does not use the code under test: it looks at every object in
the file, reachable or not.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    RectangleObject,
    StreamObject,
    TextStringObject,
)

from config import Settings
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.migrate import upgrade
from tests import servers
from tests.app_harness import USCC, make_pdf

REPO = Path(__file__).resolve().parents[2]


def _js(code: str) -> DictionaryObject:
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(code)})


def _link(rect: list[int], action: DictionaryObject) -> DictionaryObject:
    return DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
                             NameObject("/Rect"): RectangleObject(rect), NameObject("/A"): action})


def hostile_pdf(*, open_action: bool = True, page_aa: bool = True, launch_link: bool = True, js_link: bool = True,
                document_js: bool = True, embedded_file: bool = True, xfa: bool = True, pages: int = 2) -> bytes:
    """A PDF that shows ordinary pages and carries the chosen kinds of active content."""
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("ordinary looking material", pages))))
    root = w._root_object
    if open_action:
        root[NameObject("/OpenAction")] = w._add_object(_js("app.alert('opened');"))
    if document_js:
        names = root.setdefault(NameObject("/Names"), DictionaryObject())
        names[NameObject("/JavaScript")] = DictionaryObject({NameObject("/Names"): ArrayObject(
            [TextStringObject("init"), w._add_object(_js("this.exportDataObject({cName: 'x'});"))])})
    page = w.pages[0]
    if page_aa:
        page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): _js("app.launchURL('http://evil.example');")})
    annots = []
    if launch_link:
        annots.append(w._add_object(_link([0, 0, 200, 100], DictionaryObject({
            NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")}))))
    if js_link:
        annots.append(w._add_object(_link([0, 100, 200, 200], _js("app.alert('clicked');"))))
    if annots:
        page[NameObject("/Annots")] = ArrayObject(annots)
    if embedded_file:
        w.add_attachment("payload.exe", b"MZ\x90\x00 not really a program")
    if xfa:
        root[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject(),
                                                          NameObject("/XFA"): TextStringObject("<xdp:xdp/>")})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


#: What counts as active, looked for in every object of the file (not only what a walk reaches).
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE", "/RichMediaExecute"}
_ACTIVE_KEYS = {"/JS", "/AA", "/EmbeddedFiles", "/EmbeddedFile", "/XFA", "/EF"}


def active_parts(pdf: bytes) -> list[str]:
    """Every active part anywhere in ``pdf``, as ``"obj N: what"``; empty for a clean file."""
    reader = PdfReader(io.BytesIO(pdf))
    found: list[str] = []

    def look(where: str, obj: Any, depth: int = 0) -> None:
        if depth > 50:
            return
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key in _ACTIVE_KEYS:
                    found.append(f"{where}: {key}")
                if key == "/S" and value in _ACTIVE_ACTIONS:
                    found.append(f"{where}: action {value}")
                if key == "/OpenAction" and isinstance(value.get_object(), DictionaryObject):
                    found.append(f"{where}: /OpenAction action")
                if key == "/Type" and value == "/EmbeddedFile":
                    found.append(f"{where}: embedded file stream")
                if key == "/Subtype" and value in ("/FileAttachment", "/RichMedia"):
                    found.append(f"{where}: annotation {value}")
                if not isinstance(value, IndirectObject):
                    look(where, value, depth + 1)
        elif isinstance(obj, ArrayObject):
            for value in obj:
                if not isinstance(value, IndirectObject):
                    look(where, value, depth + 1)

    for generation, ids in reader.xref.items():
        for idnum in ids:
            obj = reader.get_object(IndirectObject(idnum, generation, reader))
            look(f"obj {idnum}", obj)
            if isinstance(obj, StreamObject) and b"app.alert" in obj.get_data():
                found.append(f"obj {idnum}: script text in a stream")
    for idnum in reader.xref_objStm:  # objects packed in object streams
        look(f"obj {idnum}", reader.get_object(IndirectObject(idnum, 0, reader)))
    look("trailer", reader.trailer)
    return sorted(set(found))


# --- a real tongban server process ----------------------------------------------------------------

@dataclass
class ServedTongban:
    base_url: str
    pid: int
    home: Path
    tokens: dict[str, str]
    items: dict[str, Any]

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def peak_rss(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in bytes."""
        return _status_kib(self.pid, "VmHWM") * 1024

    def rss(self) -> int:
        return _status_kib(self.pid, "VmRSS") * 1024

    def receipt_parts(self, files: list[tuple[str, bytes, str]]) -> list[tuple[str, tuple[str, Any, str]]]:
        """Multipart parts of a receipt of QY-001 (BJ window → TJ) with these files."""
        mats = self.items["materials"]
        form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
                "applicant": {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                              "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                "checklist": [{"item_material_id": m} for m in mats]}
        parts: list[tuple[str, tuple[str, Any, str]]] = [("case", ("case.json", json.dumps(form), "application/json"))]
        for i, (name, data, mime) in enumerate(files):
            parts.append((f"material_{mats[i % len(mats)]}", (name, io.BytesIO(data), mime)))
        return parts


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def serve_tongban(home: Path, **settings: Any) -> Iterator[ServedTongban]:
    """Migrate and seed ``home``, run ``tongban serve --no-demo`` on it, yield once it answers, stop it."""
    env_settings = {f"TONGBAN_{k.upper()}": str(v) for k, v in settings.items()}
    st = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    upgrade(st.resolved_database_url())
    from sqlalchemy import select

    from states.runtime import Runtime
    from storage.catalog.models import Item
    from storage.zone.models import Zone

    rt = Runtime(st)
    with transaction(rt.session_factory) as s:
        tokens = {u.username: u.token for u in seed_demo(db_session=s)}
        item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                         .where(Item.code == "QY-001", Zone.code == "TJ-TEDA")).unique().one()
        items = {"materials": [m.id for m in item.materials]}
    rt.dispose()
    port = servers.free_port()
    env = {**os.environ, "TONGBAN_HOME": str(home), "TONGBAN_DATABASE_URL": "", "TONGBAN_STORAGE_URL": "",
           "TONGBAN_MODE": "embedded", "TONGBAN_SECRET_KEY": secrets.token_hex(32), **env_settings,
           "PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from web.cli import app; app()", "serve", "--no-demo", "--port", str(port)],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tongban serve exited with {process.returncode}: "
                                   f"{(home / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                tail = (home / "serve.log").read_text()[-2000:]
                raise RuntimeError(f"tongban serve did not answer within 60 s: {tail}")
            time.sleep(0.2)
        yield ServedTongban(base_url=base, pid=process.pid, home=home, tokens=tokens, items=items)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()

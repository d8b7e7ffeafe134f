"""Material the way it arrives at a window: scanned pages (a JPEG per page) wrapped in a PDF.

Scans are made of noise so that they do not compress: a 2 MB scan stays 2 MB all the way through,
as a real 300-dpi greyscale scan roughly does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from functools import lru_cache

from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from bench.runner import BenchDB
from states.intake.schemas import ApplicantIn, ChecklistTick, ReceiveForm
from states.intake.uploads import Upload

USCC = "91350100M000100Y43"


@lru_cache(maxsize=8)
def scanned_pdf(target_bytes: int, pages: int = 2, seed: int = 0) -> bytes:
    """A PDF of ``pages`` scanned pages, about ``target_bytes`` long."""
    per_page = max(4_000, target_bytes // pages)
    # Random greyscale JPEG at quality 75 costs about 0.95 byte per pixel.
    side = int((per_page / 0.95) ** 0.5)
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, pageCompression=1)
    for n in range(pages):
        noise = Image.frombytes("L", (side, int(side * 1.41)), os.urandom(side * int(side * 1.41)))
        jpeg = io.BytesIO()
        noise.save(jpeg, "JPEG", quality=75)
        jpeg.seek(0)
        canvas.drawImage(ImageReader(jpeg), 0, 0, width=A4[0], height=A4[1])
        canvas.drawString(40, 40, f"scan {seed}-{n}")
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def case_files(total_bytes: int, count: int = 5) -> list[bytes]:
    return [scanned_pdf(total_bytes // count, 2, seed) for seed in range(count)]


def receive_form(db: BenchDB, item_code: str = "QY-001",
                 handling_zone: str = "TJ-TEDA") -> tuple[ReceiveForm, list[int]]:
    """What bj_clerk fills in for an enterprise archive query handled by TJ-TEDA; and the checklist ids."""
    from sqlalchemy import select

    from storage.catalog.models import Item
    from storage.db import transaction
    from storage.zone.models import Zone

    with transaction(db.runtime.session_factory) as s:
        item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                         .where(Item.code == item_code, Zone.code == handling_zone)).unique().one()
        material_ids = [m.id for m in item.materials]
    form = ReceiveForm(
        item_code=item_code, handling_zone=handling_zone,
        applicant=ApplicantIn(kind="enterprise", name="天津测试科技有限公司", id_number=USCC, phone="13812345678",
                              address="天津市滨海新区第三大街1号"),
        checklist=[ChecklistTick(item_material_id=m) for m in material_ids],
    )
    return form, material_ids


def uploads(files: list[bytes], material_ids: list[int]) -> list[Upload]:
    return [Upload(filename=f"扫描件-{n + 1}.pdf", stream=io.BytesIO(data),
                   item_material_id=material_ids[n % len(material_ids)]) for n, data in enumerate(files)]


def chunks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]

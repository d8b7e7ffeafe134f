"""电子证照 at the counter in a real browser: the clerk types a licence number instead of choosing a scan;
every bad licence is named on its own line in Chinese and nothing is received; an unreachable issuer
is answered by ticking 改交扫描件 and choosing the scan; the case page shows 电子证照 · 已核验 and who
issued it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from storage.catalog.models import ItemMaterial
from storage.db import transaction
from tests.app_harness import USCC
from tests.licences import support
from tests.licences.support import IssuerProcess
from tests.web.ui.conftest import UiServer, login, write_pdf

pytestmark = pytest.mark.browser

LABEL = "DZZZ-001 电子证照示例事项（天津经济技术开发区）"


def _lines(ui: UiServer) -> dict[str, int]:
    with transaction(ui.runtime.session_factory) as s:
        item_id = ui.item_id(support.ITEM, "TJ-TEDA")
        return {m.name: m.id for m in s.scalars(select(ItemMaterial).where(ItemMaterial.item_id == item_id))}


def test_clerk_verifies_an_e_licence_at_the_counter_after_every_bad_one_is_named(
        new_page: Any, ui_server: UiServer, licence_issuer: IssuerProcess, tmp_path: Path) -> None:
    support.set_up(ui_server.runtime.session_factory, licence_issuer)
    lines = _lines(ui_server)
    biz, food = lines["营业执照副本"], lines["食品经营许可证"]
    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.locator("#item").fill(LABEL)
    expect(clerk.locator(f"#licence_no_{biz}")).to_be_visible()
    expect(clerk.locator("[data-licence-for]")).to_have_count(3)  # 申请书 takes scans only
    clerk.locator(f'input[name="material_{lines["变更登记申请书"]}"]').set_input_files(
        write_pdf(tmp_path / "申请书.pdf", "申请书"))
    clerk.get_by_label("名称 / 姓名").fill(support.HOLDER)
    clerk.locator("#applicant_id_number").fill(USCC)
    clerk.get_by_label("地址", exact=True).fill("天津经济技术开发区第三大街1号")
    submit = clerk.get_by_role("button", name="确认收件并打印回执")
    slot = clerk.locator(f'[data-error-for="licence_{biz}"]')

    for number, words in [(support.EXPIRED, "已超过有效期"), (support.REVOKED, "吊销"),
                          (support.OTHERS, "不是本申请人"), (support.TAMPERED, "签名与发证机关"),
                          (support.FOREIGN, "未在本系统登记"), (support.MISSING, "查无")]:
        clerk.locator(f"#licence_no_{biz}").fill(number)
        submit.click()
        expect(slot).to_contain_text(words)
        expect(slot).to_contain_text("“营业执照副本”")
        expect(clerk).to_have_url(re.compile(r"/ui/receive$"))  # nothing received

    clerk.locator(f"#licence_no_{biz}").fill(support.GOOD)
    clerk.locator(f"#licence_no_{food}").fill(support.FOOD)
    submit.click()
    food_slot = clerk.locator(f'[data-error-for="licence_{food}"]')
    expect(food_slot).to_contain_text("无法访问")
    expect(food_slot).to_contain_text("改交扫描件")
    expect(clerk).to_have_url(re.compile(r"/ui/receive$"))

    # the issuer stays unreachable: the clerk falls back to a scan of the food licence
    clerk.locator(f'[data-licence-for="{food}"]').get_by_label("发证机关不可达，改交扫描件").check()
    submit.click()
    expect(food_slot).to_contain_text("请上传该材料的扫描件")
    clerk.locator(f'input[name="material_{food}"]').set_input_files(write_pdf(tmp_path / "食品许可.pdf", "许可"))
    submit.click()
    clerk.wait_for_url(re.compile(r"/ui/cases/BJETOWN-"))
    expect(clerk.locator("h1 .state")).to_have_text("已收件")
    verified = clerk.locator('[data-e-licence]')
    expect(verified).to_have_count(1)
    expect(verified).to_contain_text("电子证照 · 已核验")
    expect(verified).to_contain_text(f"发证机关：{support.ISSUER_NAME}")
    expect(verified).to_contain_text(support.GOOD)
    page = clerk.content()
    assert "核验电子证照" in page and "电子证照不可达，改交扫描件" in page  # both in the case's trail

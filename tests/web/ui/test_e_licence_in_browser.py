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


def test_admin_registers_an_issuer_and_marks_a_line_for_an_e_licence(
        new_page: Any, ui_server: UiServer, licence_issuer: IssuerProcess) -> None:
    support.set_up(ui_server.runtime.session_factory, licence_issuer)
    admin = new_page()
    login(admin, "tj_admin")
    admin.goto("/ui/admin/licences")
    types = admin.locator("#licence-types")
    for name in ("营业执照", "不动产权证书", "特种设备作业人员证", "食品经营许可证", "居民身份证"):
        expect(types).to_contain_text(name)
    expect(admin.locator('[data-type="yyzz"]')).to_contain_text(support.ISSUER)
    expect(admin.locator(f'[data-issuer="{support.ISSUER}"]')).to_contain_text(licence_issuer.key_id)

    admin.get_by_label("代码", exact=True).fill("SH-TZSB")
    admin.get_by_label("名称", exact=True).fill("上海市特种设备监督检验技术研究院")
    admin.get_by_label("服务地址").fill("http://127.0.0.1:9")
    admin.get_by_label("Ed25519 公钥").fill("bm90IGEga2V5")
    admin.get_by_role("button", name="保存").click()
    expect(admin.locator("#issuer-error")).to_contain_text("公钥无效")
    expect(admin.locator('[data-issuer="SH-TZSB"]')).to_have_count(0)  # nothing kept
    expect(admin.get_by_label("代码", exact=True)).to_have_value("SH-TZSB")  # what was typed stays
    admin.get_by_label("Ed25519 公钥").fill(licence_issuer.public_key)
    admin.get_by_label("签发的证照类型").fill("特种设备作业人员证")
    admin.get_by_role("button", name="保存").click()
    expect(admin.locator('[data-issuer="SH-TZSB"]')).to_contain_text(licence_issuer.key_id)
    expect(admin.locator('[data-type="tzsbzyry"]')).to_contain_text("SH-TZSB")

    # the item's materials text: an unknown e-licence type is refused naming the line, a known one kept
    admin.goto(f"/ui/admin/items/{ui_server.item_id(support.ITEM, 'TJ-TEDA')}")
    box = admin.locator('textarea[name="materials"]')
    expect(box).to_contain_text("营业执照副本 | 复印件 | 1 | 必交 | yyzz")
    text = box.input_value()
    box.fill(text.replace("不动产权证书 | 复印件 | 1 | 选交 | bdcqzs", "不动产权证书 | 复印件 | 1 | 选交 | 驾驶证"))
    admin.get_by_role("button", name="保存").click()
    expect(admin.locator("body")).to_contain_text("不动产权证书：未知的电子证照类型“驾驶证”")
    admin.goto(f"/ui/admin/items/{ui_server.item_id(support.ITEM, 'TJ-TEDA')}")
    expect(admin.locator('textarea[name="materials"]')).to_contain_text("不动产权证书 | 复印件 | 1 | 选交 | bdcqzs")

"""UI strings of the kiosk's staff pages (terminal registry, the locker), registered into ``i18n``.
The kiosk's own screens are Chinese only and carry their text in their templates."""

from __future__ import annotations

from web.ui import i18n

ZH: dict[str, str] = {
    "nav.locker": "智能流转柜",
    "adm.kiosks": "自助终端",
    "kiosk.terminal_id": "终端编号",
    "kiosk.location": "摆放位置",
    "kiosk.slots": "柜格数",
    "kiosk.reader_url": "读卡器本机接口",
    "kiosk.register": "登记终端",
    "kiosk.registered": "终端 {terminal} 已登记。终端密钥只显示这一次，请在终端登录页输入：",
    "kiosk.rotated": "终端 {terminal} 的密钥已重置，旧密钥立即失效。新密钥只显示这一次：",
    "kiosk.disable": "停用",
    "kiosk.enable": "启用",
    "kiosk.rotate": "重置密钥",
    "kiosk.active": "状态",
    "kiosk.on": "在用",
    "kiosk.off": "已停用",
    "kiosk.waiting": "柜中待取",
    "kiosk.none": "本区尚未登记自助终端。",
    "locker.title": "智能流转柜 · 待取纸质材料",
    "locker.hint": "自助机收件的纸质材料放在终端的智能流转柜中。取出后核对柜格号和回执上的取件码，确认后方可预审。",
    "locker.case": "受理编号",
    "locker.terminal": "终端",
    "locker.slot": "柜格号",
    "locker.code": "取件码",
    "locker.received": "自助受理时间",
    "locker.confirm": "确认已取件",
    "locker.confirmed": "{case_no} 的纸质材料已从 {slot} 号柜格取出并确认，可进行预审。",
    "locker.empty": "柜中没有待取的纸质材料。",
}
EN: dict[str, str] = {
    "nav.locker": "Smart locker",
    "adm.kiosks": "Kiosk terminals",
    "kiosk.terminal_id": "Terminal id",
    "kiosk.location": "Location",
    "kiosk.slots": "Locker slots",
    "kiosk.reader_url": "ID-card reader (local)",
    "kiosk.register": "Register terminal",
    "kiosk.registered": "Terminal {terminal} is registered. Its device secret is shown only now; type it at the "
                        "terminal's sign-in:",
    "kiosk.rotated": "The secret of terminal {terminal} was replaced; the old one no longer works. New secret:",
    "kiosk.disable": "Disable",
    "kiosk.enable": "Enable",
    "kiosk.rotate": "New secret",
    "kiosk.active": "Status",
    "kiosk.on": "in use",
    "kiosk.off": "disabled",
    "kiosk.waiting": "Paper waiting",
    "kiosk.none": "No kiosk terminal is registered in this zone.",
    "locker.title": "Smart locker · paper to collect",
    "locker.hint": "Paper handed in at a kiosk waits in its smart locker. Take it out, check the slot and the "
                   "pickup code on the receipt, and confirm; only then can the pre-check pass.",
    "locker.case": "Case no.",
    "locker.terminal": "Terminal",
    "locker.slot": "Slot",
    "locker.code": "Pickup code",
    "locker.received": "Received at the kiosk",
    "locker.confirm": "Confirm collected",
    "locker.confirmed": "The paper of {case_no} was taken from slot {slot} and confirmed; it can be pre-checked.",
    "locker.empty": "No paper waits in the locker.",
}

for _key, _text in ZH.items():
    i18n.ZH.setdefault(_key, _text)
for _key, _text in EN.items():
    i18n.EN.setdefault(_key, _text)

# The kiosk's audit events, as the case page's history names them.
i18n.EVENT_LABELS_ZH.setdefault("kiosk_locker", "自助机收件 · 材料投入智能流转柜")
i18n.EVENT_LABELS_ZH.setdefault("locker_confirm", "从智能流转柜取件确认")
i18n.EVENT_LABELS_EN.setdefault("kiosk_locker", "received at a kiosk · paper in the smart locker")
i18n.EVENT_LABELS_EN.setdefault("locker_confirm", "paper collected from the smart locker")

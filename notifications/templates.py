"""Message templates (zh-CN, English available). Every subject and body leaves here masked.

An alert names the case, the item, the step, the deadline (local time) and a link; whatever free
text goes in (an applicant name a clerk typed with an ID number in it, a reason) is passed through
``mask_text`` so that no 身份证号 or mobile number reaches a mailbox or a chat group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notifications.links import case_link
from privacy import mask_id, mask_text
from storage.case.models import Case

LEVEL_LABELS = {
    "zh-CN": {"warning": "临期预警", "overdue": "已超期", "escalation": "超期督办"},
    "en": {"warning": "deadline approaching", "overdue": "overdue", "escalation": "escalation: still overdue"},
}
STEP_LABELS = {
    "zh-CN": {"overall": "承诺办结时限", "precheck": "预审", "forward": "转递", "accept": "受理",
              "decide": "审核决定", "mailback": "结果寄回"},
    "en": {"overall": "promised time limit", "precheck": "pre-check", "forward": "forwarding",
           "accept": "acceptance", "decide": "decision", "mailback": "result mail-back"},
}
SIDE_LABELS = {
    "zh-CN": {"receiving": "收件地", "handling": "办理地", "both": "收件地/办理地"},
    "en": {"receiving": "receiving zone", "handling": "handling zone", "both": "receiving and handling zone"},
}


@dataclass(frozen=True)
class AlertFacts:
    """What an alert message says, gathered by the sweep from the case."""

    level: str
    step: str
    visit: int
    case_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id: str
    state_label: str
    due_at: datetime
    zone_name: str
    side: str
    receiving_zone: str
    handling_zone: str
    link: str


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def render_alert(facts: AlertFacts, *, lang: str, tz: str) -> tuple[str, str]:
    lang = lang if lang in LEVEL_LABELS else "zh-CN"
    level = LEVEL_LABELS[lang][facts.level]
    step = STEP_LABELS[lang].get(facts.step, facts.step)
    side = SIDE_LABELS[lang][facts.side]
    due = _local(facts.due_at, tz)
    again = facts.visit > 1
    applicant = f"{facts.applicant_name}（{mask_id(facts.applicant_id)}）"
    if lang == "zh-CN":
        subject = f"【通办{level}】{facts.case_no} {facts.item_name} · {step}"
        lines = [
            f"{facts.zone_name}（{side}）：",
            f"办件 {facts.case_no} 的{step}{'（退回后再次进入）' if again else ''}{_zh_sentence(facts.level)}。",
            f"事项：{facts.item_name}（{facts.item_code}）",
            f"申请人：{applicant}",
            f"当前状态：{facts.state_label}",
            f"时限：{due}（北京时间）",
            f"收件地：{facts.receiving_zone}；办理地：{facts.handling_zone}",
            f"查看办件：{facts.link}",
        ]
    else:
        subject = f"[tongban {level}] {facts.case_no} {facts.item_name} · {step}"
        lines = [
            f"{facts.zone_name} ({side}):",
            f"the {step} of case {facts.case_no}{' (re-entered after a return)' if again else ''} "
            f"{_en_sentence(facts.level)}.",
            f"Item: {facts.item_name} ({facts.item_code})",
            f"Applicant: {applicant}",
            f"State: {facts.state_label}",
            f"Deadline: {due} (Asia/Shanghai)",
            f"Receiving zone: {facts.receiving_zone}; handling zone: {facts.handling_zone}",
            f"Open the case: {facts.link}",
        ]
    return mask_text(subject), mask_text("\n".join(lines))


def _zh_sentence(level: str) -> str:
    return {"warning": "即将到期，请抓紧办理", "overdue": "已到期未完成，请立即处理",
            "escalation": "超期仍未完成，已提请主管督办"}[level]


def _en_sentence(level: str) -> str:
    return {"warning": "is about to reach its deadline", "overdue": "has reached its deadline unfinished",
            "escalation": "is still overdue and has been escalated to supervisors"}[level]


def render_digest(lang: str, *, zone_name: str, day: str, lines: list[tuple[str, str, object]],
                  link: str) -> tuple[str, str]:
    """``lines``: (zh label, en label, value) rows of the daily digest (每日汇总)."""
    if lang == "en":
        subject = f"[tongban] daily SLA digest {zone_name} {day}"
        body = [f"{zone_name}, {day}:"] + [f"- {en}: {value}" for _, en, value in lines] + [f"Overview: {link}"]
    else:
        subject = f"【通办】{zone_name} 时限日报 {day}"
        body = [f"{zone_name} {day}："] + [f"· {zh}：{value}" for zh, _, value in lines] + [f"查看：{link}"]
    return mask_text(subject), mask_text("\n".join(body))


# --- 结果通知: the result notice to the receiving window -----------------------------------------------

_DECISION = {"zh-CN": {"approved": "准予许可", "denied": "不予许可"},
             "en": {"approved": "approved", "denied": "denied"}}


#: 结果通知 in each language: what happened per topic, then the subject and body around it.
_RESULT_NOTICE = {
    "en": {"result_decided": "decided: {decision}; the result document is in your zone's files",
           "result_mailed": "result mailed by {carrier}, tracking number {tracking}",
           "result_ready_for_pickup": "result ready for pickup at your window",
           "undecided": "see the case", "headline_end": ";",
           "subject": "[tongban] {case_no}: {headline}",
           "body": "Case {case_no} — {item} ({item_code}), applicant {applicant}, handled by {handler}: {what}."
                   "\n{link}"},
    "zh-CN": {"result_decided": "已作出{decision}决定，结果文书已送达本窗口",
              "result_mailed": "结果已由{carrier}寄出，邮件号 {tracking}",
              "result_ready_for_pickup": "结果文书已到本窗口，请通知申请人领取",
              "undecided": "办理", "headline_end": "，",
              "subject": "【办理结果】{case_no} {headline}",
              "body": "案件 {case_no}：{item}（{item_code}），申请人 {applicant}，办理地 {handler}。{what}。\n{link}"},
}


def render_result_notice(case: Case, topic: str, *, lang: str, base_url: str) -> tuple[str, str]:
    """结果通知: subject and body for the receiving window (masked again by the ledger)."""
    text = _RESULT_NOTICE["en" if lang == "en" else "zh-CN"]
    shipment = next((sh for sh in reversed(case.shipments) if sh.direction == "result"), None)
    decided = next((e for e in ("approved", "denied") if e == case.state), None)
    decision = _DECISION["en" if lang == "en" else "zh-CN"].get(decided or "", "") or text["undecided"]
    what = text[topic].format(decision=decision, carrier=getattr(shipment, "carrier", "?"),
                              tracking=getattr(shipment, "tracking_no", "?"))
    subject = text["subject"].format(case_no=case.case_no, headline=what.split(text["headline_end"])[0])
    body = text["body"].format(case_no=case.case_no, item=case.item.name, item_code=case.item.code,
                               applicant=case.applicant.name, handler=case.handling_zone.name, what=what,
                               link=case_link(base_url, case.case_no))
    return subject, body

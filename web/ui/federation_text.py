"""The words of the federation parts of the UI (跨系统转递 on the case page, 对端系统 admin page),
merged into the shared tables on import."""

from __future__ import annotations

from federation.enums import REFUSAL_ZH
from web.ui import i18n

ZH: dict[str, str] = {
    "adm.peers": "对端系统",
    "fed.transfer": "跨系统转递",
    "fed.origin": "本件由本系统收件，转递至对端系统 {peer} 办理，对端件号 {remote}。",
    "fed.mirror": "本件由对端系统 {peer} 收件（原件号 {remote}），在本系统办理。",
    "fed.direction.out": "发送",
    "fed.direction.in": "接收",
    "fed.status.pending": "等待回执",
    "fed.status.held": "对端等待前序报文",
    "fed.status.acknowledged": "已收到回执",
    "fed.status.failed": "发送失败",
    "fed.status.applied": "已执行",
    "fed.receipt": "{at} 由 {by} 签署回执（密钥指纹 {fp}），确认 {n} 个文件摘要",
    "fed.attempts": "已尝试 {n} 次",
    "fed.type.transfer": "转递材料",
    "fed.message": "报文",
    "fed.seq": "序号",
    "fed.state": "状态",
    "fed.detail": "详情",
    "fed.peers.title": "对端系统",
    "fed.peers.none": "尚未登记对端系统（命令行：tongban peer add）。",
    "fed.peer": "对端",
    "fed.zones": "承载开发区",
    "fed.url": "地址",
    "fed.keys": "公钥指纹",
    "fed.last_contact": "最近联系",
    "fed.never": "从未",
    "fed.waiting": "待确认报文",
    "fed.oldest": "最早未确认",
    "fed.failed": "失败报文",
    "fed.refusals": "拒收次数",
    "fed.identity": "本系统标识 {id}，当前密钥指纹 {fp}",
    "fed.not_federated": "本系统未启用跨系统联邦（TONGBAN_FEDERATION_ID 未设置）。",
}
EN: dict[str, str] = {
    "adm.peers": "Peer deployments",
    "fed.transfer": "Transfer between deployments",
    "fed.origin": "Received here; sent to peer deployment {peer} for decision, its case number {remote}.",
    "fed.mirror": "Received by peer deployment {peer} (its case {remote}); decided here.",
    "fed.direction.out": "sent",
    "fed.direction.in": "received",
    "fed.status.pending": "waiting for receipt",
    "fed.status.held": "held by the peer (earlier message missing)",
    "fed.status.acknowledged": "receipt received",
    "fed.status.failed": "failed",
    "fed.status.applied": "applied",
    "fed.receipt": "receipt signed {at} by {by} (key {fp}), {n} file hashes confirmed",
    "fed.attempts": "{n} attempts",
    "fed.type.transfer": "transfer",
    "fed.message": "Message",
    "fed.seq": "Seq",
    "fed.state": "Status",
    "fed.detail": "Detail",
    "fed.peers.title": "Peer deployments",
    "fed.peers.none": "No peer registered (command line: tongban peer add).",
    "fed.peer": "Peer",
    "fed.zones": "Zones",
    "fed.url": "URL",
    "fed.keys": "Key fingerprints",
    "fed.last_contact": "Last contact",
    "fed.never": "never",
    "fed.waiting": "Waiting",
    "fed.oldest": "Oldest unacknowledged",
    "fed.failed": "Failed",
    "fed.refusals": "Refusals",
    "fed.identity": "This deployment: {id}, current key {fp}",
    "fed.not_federated": "Federation is not enabled here (TONGBAN_FEDERATION_ID unset).",
}
ZH["fed.refusal.PeerUnavailable"] = "对端系统暂时无法连接，将自动重试"
EN["fed.refusal.PeerUnavailable"] = "peer unreachable; retried automatically"
for code, zh in REFUSAL_ZH.items():
    ZH[f"fed.refusal.{code}"] = zh
    EN[f"fed.refusal.{code}"] = code.replace("_", " ")

for _key, _text in ZH.items():
    i18n.ZH.setdefault(_key, _text)
for _key, _text in EN.items():
    i18n.EN.setdefault(_key, _text)
# Audit events that are not transitions (the case's trail shows them by these names).
i18n.EVENT_LABELS_ZH.setdefault("federation_receipt", "收到对端签名回执")
i18n.EVENT_LABELS_EN.setdefault("federation_receipt", "peer's signed receipt recorded")
i18n.EVENT_LABELS_ZH.setdefault("federation_transfer", "收到跨系统转递")
i18n.EVENT_LABELS_EN.setdefault("federation_transfer", "transfer from a peer deployment received")

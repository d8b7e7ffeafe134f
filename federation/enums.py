"""Names of the federation protocol: message types, statuses, refusal codes (machine-readable)."""

from __future__ import annotations

from enum import StrEnum


class MessageType(StrEnum):
    #: A case crosses to the zone that decides it (转递): summary, packet, manifest, files, chain head.
    transfer = "transfer"
    #: A lifecycle event on a case both sides hold (accept, return, claim, approve, …).
    event = "event"


class Direction(StrEnum):
    outgoing = "out"
    incoming = "in"


class OutStatus(StrEnum):
    #: Written, not yet answered with an ``applied`` receipt.
    pending = "pending"
    #: The peer holds it until an earlier message of the case arrives.
    held = "held"
    #: The peer's signed receipt is recorded.
    acknowledged = "acknowledged"
    #: The peer refused it for good (a reason code that retrying cannot change).
    failed = "failed"


class InStatus(StrEnum):
    applied = "applied"
    #: Verified, waiting for the gap before it (an earlier sequence number) to fill.
    held = "held"


class Refusal(StrEnum):
    """Why a message, blob or receipt was refused. Each is logged and counted, and changes nothing."""

    malformed = "malformed"
    unknown_sender = "unknown_sender"
    unknown_key = "unknown_key"
    key_expired = "key_expired"
    bad_signature = "bad_signature"
    wrong_recipient = "wrong_recipient"
    too_old = "too_old"
    from_the_future = "from_the_future"
    body_hash_mismatch = "body_hash_mismatch"
    message_id_conflict = "message_id_conflict"
    blob_missing = "blob_missing"
    blob_hash_mismatch = "blob_hash_mismatch"
    chunk_hash_mismatch = "chunk_hash_mismatch"
    bad_offset = "bad_offset"
    zone_not_hosted = "zone_not_hosted"
    unknown_case = "unknown_case"
    sequence_gap = "sequence_gap"
    #: A new message id with a sequence number the case already used (a replay under a fresh id).
    stale_sequence = "stale_sequence"
    not_applicable = "not_applicable"
    unknown_item = "unknown_item"


#: Refusals a retry cannot change: the sender marks the message failed and shows the reason.
PERMANENT: frozenset[Refusal] = frozenset({
    Refusal.malformed, Refusal.wrong_recipient, Refusal.message_id_conflict, Refusal.zone_not_hosted,
    Refusal.unknown_item, Refusal.not_applicable, Refusal.stale_sequence,
})

#: Chinese labels of the refusal codes (case page, admin page).
REFUSAL_ZH: dict[str, str] = {
    Refusal.malformed: "报文格式错误",
    Refusal.unknown_sender: "未登记的对端",
    Refusal.unknown_key: "未知签名密钥",
    Refusal.key_expired: "签名密钥已过期",
    Refusal.bad_signature: "签名无效",
    Refusal.wrong_recipient: "收件方不符",
    Refusal.too_old: "报文过期（超出重放窗口）",
    Refusal.from_the_future: "报文时间超前（时钟偏差过大）",
    Refusal.body_hash_mismatch: "报文正文摘要不符",
    Refusal.message_id_conflict: "报文编号重复但内容不同",
    Refusal.blob_missing: "文件尚未上传完整",
    Refusal.blob_hash_mismatch: "文件摘要不符",
    Refusal.chunk_hash_mismatch: "文件分片摘要不符",
    Refusal.bad_offset: "文件分片位置不符",
    Refusal.zone_not_hosted: "对端不承载该开发区",
    Refusal.unknown_case: "对端无此办件",
    Refusal.sequence_gap: "等待前序报文",
    Refusal.stale_sequence: "序号已使用（疑似重放）",
    Refusal.not_applicable: "当前状态不能执行该事件",
    Refusal.unknown_item: "对端无此事项",
}

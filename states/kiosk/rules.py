"""The kiosk's one rule of the lifecycle: its paper must be out of the locker before the pre-check.

The transition service reads :func:`open_locker_slot` in its one SELECT of the case and calls
:func:`refuse_paper_in_locker` in ``precheck_pass`` (both its paths), so no pre-check passes a kiosk
case whose paper no clerk has taken from the smart locker (智能流转柜) and confirmed.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ScalarSelect, Table, select

from states.transition.errors import PayloadInvalid
from storage.kiosk.models import KioskReceipt

_receipts = cast(Table, KioskReceipt.__table__)


def open_locker_slot(cases: Any) -> ScalarSelect[Any]:
    """SQL: the slot of the case's kiosk receipt while its paper is unconfirmed, else NULL."""
    return (select(_receipts.c.slot)
            .where(_receipts.c.case_id == cases.c.id, _receipts.c.confirmed_at.is_(None))
            .correlate(cases).scalar_subquery())


def refuse_paper_in_locker(slot: str) -> None:
    """Refuse ``precheck_pass`` while the kiosk case's paper is still in locker slot ``slot``."""
    raise PayloadInvalid(
        "locker", f"the paper of this kiosk receipt is still in locker slot {slot}: confirm it "
                  "(slot and pickup code) before the pre-check",
        reason_zh=f"自助机收件的纸质材料尚在智能流转柜 {slot} 号柜格，"
                  "请先取出并在“智能流转柜”页面核对柜格号和取件码后，再通过预审。")

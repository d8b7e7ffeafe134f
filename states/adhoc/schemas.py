"""What a clerk sends to start an ad-hoc request, and what the deciding zone answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RequestIn(BaseModel):
    """发起一事一议. Emptiness and lengths are checked by the service (one set of messages, in Chinese too)."""

    need: str = ""
    handling_zone: str = ""
    urgency: str = ""
    applicant_name: str = ""


class MaterialIn(BaseModel):
    name: str = ""
    form: str = "原件"
    copies: int = Field(default=1, ge=1, le=20)
    required: bool = True


class DecisionIn(BaseModel):
    """同意 (with the one-off checklist and 承诺时限) or 拒绝 (with a reason)."""

    decision: Literal["accept", "decline"]
    promised_days: int | None = None
    materials: list[MaterialIn] = Field(default_factory=list)
    reason: str = ""


class PromoteIn(BaseModel):
    """转入目录: the catalog code the admin gives the item (name, materials and limit come from the request)."""

    code: str = ""

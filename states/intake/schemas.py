"""What a clerk submits at the counter to log a receipt (收件)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ApplicantIn(BaseModel):
    kind: Literal["enterprise", "person"]
    name: str = Field(min_length=1, max_length=200)
    #: 统一社会信用代码 (enterprise) or 身份证号 (person); check digit validated.
    id_number: str = Field(min_length=1, max_length=40)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)


class ChecklistTick(BaseModel):
    """One ticked line of the item's checklist: the paper was handed in at the counter."""

    item_material_id: int
    provided: bool = True


class ELicenceIn(BaseModel):
    """电子证照 in place of a scan: the line, the licence type (code or name) and its number."""

    item_material_id: int
    licence_type: str = Field(min_length=1, max_length=100)
    number: str = Field(min_length=1, max_length=100)


class LicenceFallbackIn(BaseModel):
    """改交扫描件: the line's e-licence could not be fetched (issuer unreachable); a scan comes instead."""

    item_material_id: int
    licence_type: str = Field(min_length=1, max_length=100)
    number: str = Field(default="", max_length=100)


class ReceiveForm(BaseModel):
    item_code: str = Field(min_length=1, max_length=40)
    #: Needed only when two zones publish the same code (同事同标 items).
    handling_zone: str | None = None
    applicant: ApplicantIn
    checklist: list[ChecklistTick] = Field(default_factory=list)
    delivery_method: Literal["mail", "pickup"] = "mail"
    delivery_address: str = Field(default="", max_length=300)
    e_licences: list[ELicenceIn] = Field(default_factory=list, max_length=50)
    licence_fallbacks: list[LicenceFallbackIn] = Field(default_factory=list, max_length=50)
    #: 一事一议: the accepted ad-hoc request this case is received on (states/adhoc); its one-off
    #: item stands in for ``item_code``, which is then ignored.
    adhoc_request_id: int | None = None

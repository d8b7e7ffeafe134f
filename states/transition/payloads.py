"""What each event carries: one pydantic model per event, a union discriminated on ``event``.

The transition service validates every payload with the model of its event (after the role, zone
and state checks, so a refusal never depends on the payload); the API documents the union in its
OpenAPI schema and the case page builds the same models from its forms. A refusal names the field
as the API always has: ``reason``, ``materials[0].note``, ``originals.tracking_no``.

What needs the case to check (a material of *this* case, a result document of *this* case) is
checked by the event's effect in the service; everything else is checked here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from states import identifiers
from states.enums import CaseEvent
from states.transition.errors import PayloadInvalid

REASON_MAX = 2000


def _fail(reason: str, reason_zh: str = "") -> PydanticCustomError:
    return PydanticCustomError("invalid", reason, {"reason_zh": reason_zh or reason})


def _required_reason(value: str) -> str:
    value = value.strip()
    if not value:
        raise _fail("a reason is required", "请填写原因")
    if len(value) > REASON_MAX:
        raise _fail(f"at most {REASON_MAX} characters", f"最多 {REASON_MAX} 个字")
    return value


def _tracking(value: str, field: str) -> str:
    try:
        return identifiers.validate_s10(value, field=field)
    except identifiers.IdentifierError as exc:
        raise _fail(exc.reason, exc.reason_zh) from exc


class _Payload(BaseModel):
    """Fields every event may carry. Unknown fields are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    #: The case version the sender saw (optimistic lock); the API requires it, the system omits it.
    version: int | None = Field(None, description="the case's version as the sender saw it")
    note: str = Field("", max_length=REASON_MAX, description="a free note kept in the audit trail")


class _WithReason(_Payload):
    reason: str = Field("", description="why (required)", validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        return _required_reason(v)


class Parcel(BaseModel):
    """A parcel with its carrier and UPU S10 tracking number (check digit validated)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    carrier: str = Field("", description="e.g. EMS", validate_default=True)
    tracking_no: str = Field("", description="UPU S10, e.g. RR473124829GB", validate_default=True)

    @field_validator("carrier")
    @classmethod
    def _carrier(cls, v: str) -> str:
        if not v:
            raise _fail("name the carrier (e.g. EMS)", "请填写寄递公司（如 EMS）")
        return v

    @field_validator("tracking_no")
    @classmethod
    def _tracking_no(cls, v: str) -> str:
        return _tracking(v, "tracking_no")


class MaterialProblem(BaseModel):
    """One line of the one-time notice (一次性告知): a material and what is wrong with it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    material_id: int = Field(description="a material of this case")
    problem: Literal["missing", "defective"]
    note: str = Field("", max_length=REASON_MAX, validate_default=True,
                      description="what is defective (required for 'defective')")

    @field_validator("problem", mode="before")
    @classmethod
    def _problem(cls, v: Any) -> Any:
        if v not in ("missing", "defective"):
            raise _fail("must be 'missing' or 'defective'", "应为 missing（缺少）或 defective（有误）")
        return v

    @field_validator("note")
    @classmethod
    def _note(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("problem") == "defective" and not v:
            raise _fail("say what is defective", "请说明有误之处")
        return v


class RequestSupplement(_Payload):
    event: Literal[CaseEvent.request_supplement] = CaseEvent.request_supplement
    materials: list[MaterialProblem] = Field(default_factory=list, validate_default=True,
                                             description="every missing or defective material, at least one")
    reason: str = Field("", max_length=REASON_MAX)

    @field_validator("materials", mode="before")
    @classmethod
    def _some(cls, v: Any) -> Any:
        if not isinstance(v, list) or not v:
            raise _fail("list every missing or defective material (at least one)",
                        "请列出每一项缺少或有误的材料（至少一项）")
        for i, item in enumerate(v):
            if not isinstance(item, dict | MaterialProblem):
                raise PydanticCustomError("invalid", "must be an object with material_id, problem, note",
                                          {"index": i})
        return v


class Supplement(_Payload):
    event: Literal[CaseEvent.supplement] = CaseEvent.supplement
    #: the materials whose paper was handed in with the supplement (ids of this case's materials)
    paper: list[int] = Field(default_factory=list, description="materials whose paper was handed in")


class Reject(_WithReason):
    event: Literal[CaseEvent.reject] = CaseEvent.reject


class PrecheckPass(_Payload):
    event: Literal[CaseEvent.precheck_pass] = CaseEvent.precheck_pass
    #: 原件寄递: the paper originals posted to the handling zone (the clock pauses until they arrive).
    originals: Parcel | None = None


class Forward(_Payload):
    event: Literal[CaseEvent.forward] = CaseEvent.forward


class Return(_WithReason):
    event: Literal[CaseEvent.return_] = CaseEvent.return_


class ReopenForSupplement(_Payload):
    event: Literal[CaseEvent.reopen_for_supplement] = CaseEvent.reopen_for_supplement
    reason: str = ""


class Accept(_Payload):
    event: Literal[CaseEvent.accept] = CaseEvent.accept


class Claim(_Payload):
    event: Literal[CaseEvent.claim] = CaseEvent.claim


class Approve(_Payload):
    event: Literal[CaseEvent.approve] = CaseEvent.approve
    reason: str = Field("", max_length=REASON_MAX)
    result_file_id: int | None = Field(None, validate_default=True,
                                       description="the result document (结果文书), uploaded first")

    @field_validator("result_file_id")
    @classmethod
    def _result(cls, v: int | None) -> int:
        if v is None:
            raise _fail("upload the result document first and name its file id", "请先上传结果文书")
        return v


class Deny(Approve):
    event: Literal[CaseEvent.deny] = CaseEvent.deny  # type: ignore[assignment]
    reason: str = Field("", validate_default=True, description="why (required)")
    result_file_id: int | None = Field(None, validate_default=True,
                                       description="the result document (结果文书), uploaded first")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        return _required_reason(v)


class MailResult(_Payload, Parcel):
    event: Literal[CaseEvent.mail_result] = CaseEvent.mail_result


class ReadyForPickup(_Payload):
    event: Literal[CaseEvent.ready_for_pickup] = CaseEvent.ready_for_pickup


class Deliver(_Payload):
    event: Literal[CaseEvent.deliver] = CaseEvent.deliver
    signed_on: str = Field("", description="签收日期, YYYY-MM-DD (optional)")
    signatory: str = Field("", description="签收人 (optional)")


class Withdraw(_WithReason):
    event: Literal[CaseEvent.withdraw] = CaseEvent.withdraw


EventPayload = (RequestSupplement | Supplement | Reject | PrecheckPass | Forward | Return | ReopenForSupplement
                | Accept | Claim | Approve | Deny | MailResult | ReadyForPickup | Deliver | Withdraw)
#: The request body of ``POST /api/v1/cases/{no}/events``, as OpenAPI documents it.
EventBody = Annotated[EventPayload, Field(discriminator="event")]

#: event → its payload model (every event of an existing case; ``receive`` is the intake form).
MODELS: dict[CaseEvent, type[_Payload]] = {
    m.model_fields["event"].default: m for m in EventPayload.__args__  # type: ignore[attr-defined]
}


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(event: str, payload: dict[str, Any] | BaseModel) -> _Payload:
    """The payload of ``event`` as its model, or :class:`PayloadInvalid` naming the first bad field."""
    model = MODELS[CaseEvent(event)]
    if isinstance(payload, model):
        return payload
    data = payload.model_dump() if isinstance(payload, BaseModel) else dict(payload)
    data["event"] = event
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        if err["type"] == "invalid" and "index" in (err.get("ctx") or {}):
            loc = (*loc, err["ctx"]["index"])
        reason = err["msg"]
        raise PayloadInvalid(_field(loc) or "payload", reason,
                             reason_zh=(err.get("ctx") or {}).get("reason_zh", "")) from exc


def openapi_schema() -> dict[str, Any]:
    """The union's JSON schema with every ``$ref`` inlined, to stand alone inside an OpenAPI document."""
    schema = TypeAdapter(EventBody).json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out = inline(schema)
    out["discriminator"] = {"propertyName": "event"}
    return out

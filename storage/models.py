"""Every table, imported once so that metadata (Alembic, create_all) sees them all."""

import federation.models  # noqa: F401  (the federation tables, for metadata)
from storage.adhoc.models import AdhocAlert, AdhocEvent, AdhocRequest
from storage.audit.models import AuditEvent
from storage.calendar.models import CalendarYear
from storage.case.models import Applicant, Case, CaseSequence, Material, Shipment, StoredFile
from storage.catalog.models import Item, ItemMaterial
from storage.db import Base
from storage.kiosk.models import KioskReceipt, KioskTerminal, KioskVisit
from storage.licence.models import CaseLicence, LicenceIssuer, LicenceType
from storage.outbox.models import OutboxJob
from storage.session.models import UserSession
from storage.sla.models import Alert, CaseDeadline, CasePause, Delivery
from storage.user.models import User
from storage.zone.models import Zone

__all__ = [
    "AdhocAlert", "AdhocEvent", "AdhocRequest", "Alert", "Applicant", "AuditEvent", "Base", "CalendarYear", "Case",
    "CaseDeadline", "CaseLicence", "CasePause", "CaseSequence", "Delivery", "Item", "ItemMaterial", "KioskReceipt",
    "KioskTerminal", "KioskVisit", "LicenceIssuer", "LicenceType", "Material", "OutboxJob", "Shipment", "StoredFile",
    "User", "UserSession", "Zone",
]

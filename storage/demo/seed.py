"""`tongban seed demo`: the two development zones, 20 catalog items, one user of each role per zone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.catalog import service as catalog
from storage.user import service as users
from storage.user.models import ROLE_LABELS, ROLES
from storage.zone.models import Zone

CATALOG = Path(__file__).with_name("catalog.json")

ZONES = [
    dict(code="BJ-ETOWN", name="北京经济技术开发区", name_en="Beijing E-Town", contact_name="政务服务中心跨省通办窗口",
         contact_phone="010-67881234", address="北京市北京经济技术开发区荣华中路22号"),
    dict(code="TJ-TEDA", name="天津经济技术开发区", name_en="Tianjin TEDA", contact_name="政务服务中心跨区通办窗口",
         contact_phone="022-25201234", address="天津经济技术开发区第三大街19号"),
]
#: Demo password for every demo account: shown by `tongban serve` and the README, never for production.
DEMO_PASSWORD = "tongban-demo"


@dataclass
class DemoUser:
    username: str
    role: str
    zone: str
    token: str
    password: str


def seed_demo(*, db_session: Session, rotate_tokens: bool = False) -> list[DemoUser]:
    """Idempotent: existing zones, items and users are kept.

    Tokens are stored only as hashes, so an existing demo user's token cannot be shown again;
    ``rotate_tokens`` gives existing demo users a fresh one (what ``tongban serve`` does, so the
    accounts it prints always work).
    """
    for z in ZONES:
        if db_session.scalars(select(Zone).where(Zone.code == z["code"])).first() is None:
            db_session.add(Zone(**z))
    db_session.flush()
    catalog.import_file(db_session=db_session, path=CATALOG)
    created = []
    for z in ZONES:
        prefix = "bj" if z["code"].startswith("BJ") else "tj"
        for role in ROLES:
            username = f"{prefix}_{role}"
            existing = users.get_by_username(db_session=db_session, username=username)
            if existing is not None:
                if rotate_tokens:
                    token = users.new_token()
                    existing.token_sha256 = users.token_digest(token)
                    created.append(DemoUser(username, role, z["code"], token, DEMO_PASSWORD))
                continue
            _, token = users.add(db_session=db_session, username=username,
                                 display_name=f"{z['name'][:2]}{ROLE_LABELS[role]}", role=role,
                                 zone_code=z["code"], password=DEMO_PASSWORD,
                                 email=f"{username}@example.test")
            created.append(DemoUser(username, role, z["code"], token, DEMO_PASSWORD))
    return created

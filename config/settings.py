"""One settings class for the whole application (environment prefix ``TONGBAN_``).

Nothing deep inside reads the environment: callers build a ``Settings`` once and pass it (or the
objects made from it) down.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _local_time(value: str) -> str:
    """A local wall-clock time written ``HH:MM`` (24 hours), e.g. ``17:30``; ``5pm`` is refused here,
    at start, rather than when the first deadline or digest is computed."""
    if not _HHMM.fullmatch(value.strip()):
        raise ValueError("must be a local time HH:MM (24-hour), e.g. 17:30")
    return value.strip()


def _lowercase(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


#: ``HH:MM`` local time, checked when the settings load.
LocalTime = Annotated[str, AfterValidator(_local_time)]
Mode = Literal["embedded", "distributed"]
Language = Literal["zh-CN", "en"]
ApiDocs = Annotated[Literal["", "public", "login", "off"], BeforeValidator(_lowercase)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGBAN_", env_file=".env", extra="ignore")

    #: Where embedded-mode data lives (SQLite file, filesystem object store).
    home: Path = Field(default=Path("var"))
    #: SQLAlchemy URL; empty means the embedded SQLite file under ``home``.
    database_url: str = ""
    #: ``file:///abs/path`` or ``s3://bucket?endpoint_url=http://host:port`` (region/keys from the
    #: usual AWS environment variables); empty means the filesystem store under ``home``.
    storage_url: str = ""
    #: ``embedded`` runs flows in-process; ``distributed`` hands them to Prefect deployments.
    mode: Mode = "embedded"
    #: Embedded mode's Prefect API at ``tongban serve``: ``subprocess`` starts Prefect's temporary server
    #: in a child process at serve start (jobs queue until it answers), ``thread`` the same in a thread,
    #: ``lazy`` leaves it to the first flow run (≈ 30 s for the first forward here; flows/prefect_api.py).
    prefect_api: Literal["subprocess", "thread", "lazy"] = "subprocess"
    timezone: str = "Asia/Shanghai"
    #: Upload limit per file, in bytes.
    max_file_bytes: int = 200 * 1024 * 1024
    #: Limit on a whole request body, in bytes (every file of a receipt together): 413 above it,
    #: checked on Content-Length before reading and counted while a chunked body streams in.
    max_request_bytes: int = 1024 * 1024 * 1024
    #: A scan (each frame of it) may declare at most this many pixels / bytes once decoded; both are
    #: checked from the image header, before anything is decoded. A4 at 600 dpi is 34.8 megapixels.
    image_max_pixels: int = 32_000_000
    image_max_decoded_bytes: int = 128 * 1024 * 1024
    #: Memory that image-to-PDF conversions of one process may hold at once (a 32-megapixel colour
    #: scan needs ≈ 830 MB at its peak); more conversions wait for their turn.
    image_memory_budget: int = 1024 * 1024 * 1024
    #: Temporary files (upload spools, half-written store files) older than this many seconds are
    #: what a crash left; the reconciler removes them.
    temp_max_age_seconds: float = 6 * 3600
    #: Extra calendar data (holidays / adjusted working days), e.g. for a year not yet packaged.
    calendar_override: Path | None = None
    #: Apprise notification routes (YAML/JSON file).
    notification_routes: Path | None = None
    #: Public base URL used in links inside notifications.
    base_url: str = "http://127.0.0.1:8000"
    #: Close of business (local HH:MM): a time limit ends at this time of its last working day.
    close_of_business: LocalTime = "17:30"
    #: SLA alerts: warn this many working days before a deadline, escalate this many after it.
    sla_warning_workdays: int = 1
    sla_escalation_workdays: int = 1
    #: Seconds between SLA sweeps run in-process (embedded mode).
    sla_sweep_interval: float = 60.0
    #: Local time (HH:MM) after which embedded mode sends each zone's daily digest.
    sla_digest_at: LocalTime = "08:30"
    #: Attempts per notification before it is marked failed (backoff doubles from one minute).
    notify_max_attempts: int = 5
    #: Language of notifications when a route names none: ``zh-CN`` or ``en``.
    notify_language: Language = "zh-CN"
    #: 补正期限 on the one-time notice: working days after the notice for the applicant to supplement.
    supplement_workdays: int = 10
    #: 一事一议: working days the deciding zone has to answer an ad-hoc request before alerts are raised.
    adhoc_answer_workdays: int = Field(default=1, ge=1, le=30)
    #: Demo mode (``tongban serve --demo``): the sign-in page shows the demo accounts' password.
    demo: bool = False
    #: Secret for session cookies and CSRF tokens (at least 32 characters, never a published default).
    #: Empty: embedded mode makes one in ``home/secret_key`` (0600) on first start; distributed refuses.
    secret_key: str = Field(default="", repr=False)
    #: Browser sessions (server-side, revocable): signed out after this many hours whatever happens,
    #: and counter (clerk) sessions after this many idle minutes (0 = no idle timeout).
    session_max_hours: float = 12.0
    session_idle_minutes: float = 15.0
    #: 自助机: seconds without a touch after which the kiosk wipes its screen and forgets the applicant.
    kiosk_idle_seconds: int = Field(default=90, ge=5, le=3600)
    #: ``/docs`` and ``/openapi.json``: ``public``, ``login`` (signed-in users only) or ``off``.
    #: Empty: public in embedded mode, behind login in distributed mode.
    api_docs: ApiDocs = ""

    @model_validator(mode="after")
    def _usable_secret(self) -> Settings:
        from config import secrets

        if self.secret_key:
            self.secret_key = secrets.check(self.secret_key)
        elif self.mode == "distributed":
            raise secrets.SecretKeyError("distributed mode needs TONGBAN_SECRET_KEY (the same random value on "
                                         "every replica, at least 32 characters); refusing to start without it")
        else:
            self.secret_key = secrets.load_or_create(self.home)
        return self

    def api_docs_access(self) -> str:
        """``public``, ``login`` or ``off`` (see ``api_docs``; a misspelt value was refused at load)."""
        return self.api_docs or ("public" if self.mode == "embedded" else "login")
    #: Proxies whose ``X-Forwarded-Proto``/``X-Forwarded-For`` are believed (comma-separated IPs, ``*`` for
    #: any): behind TLS-terminating nginx on the same host, ``127.0.0.1``. Empty: only the request's own
    #: scheme counts. Decides HSTS (sent only over HTTPS) and is passed to uvicorn's proxy headers.
    trusted_proxies: str = ""
    #: ``Strict-Transport-Security: max-age`` sent on HTTPS responses (0 turns HSTS off).
    hsts_max_age: int = 31536000
    # --- federation (联邦): this deployment among others (docs/federation.md) ---
    #: This deployment's id among its peers (e.g. ``TJ-TEDA``); empty: not federated.
    federation_id: str = ""
    #: Directory of the signing keys and ``identity.json`` (0700/0600), outside the database.
    #: Empty: ``<home>/federation``.
    federation_keys: Path | None = None
    #: A message signed longer ago than this is refused as a replay (``too_old``)…
    federation_max_age_seconds: float = 1800.0
    #: …and one signed further than this in the future (clock skew) as ``from_the_future``.
    federation_max_skew_seconds: float = 600.0
    #: Blob uploads go in chunks of this size (each resumable, each with its own hash).
    federation_chunk_bytes: int = 4 * 1024 * 1024

    def federation_key_dir(self) -> Path:
        return (self.federation_keys or self.home / "federation").resolve()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'tongban.db').resolve()}"

    def spool_dir(self) -> Path:
        """Where uploads and packets are staged while they are checked (under ``home``, so the
        reconciler can find what a crash left there)."""
        return (self.home / "spool").resolve()

    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.home / 'objects').resolve()}"


def refusal(exc: ValidationError) -> str:
    """One line naming each refused variable and what it allows, e.g.
    ``TONGBAN_MODE='distribted': must be one of embedded, distributed``."""
    parts = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if not err["loc"]:  # a check of the whole configuration (the secret): its own message says it all
            parts.append(str(cause) if cause is not None else err["msg"])
            continue
        name = f"TONGBAN_{str(err['loc'][0]).upper()}"
        if err["type"] == "literal_error":
            allowed = ", ".join(a.strip("'") for a in re.split(r", | or ", err["ctx"]["expected"]) if a.strip("'"))
            reason = f"must be one of {allowed}"
        else:
            reason = str(cause) if cause is not None else err["msg"]
        parts.append(f"{name}={err['input']!r}: {reason}")
    return "; ".join(parts)

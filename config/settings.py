"""One settings class for the whole application (environment prefix ``TONGBAN_``).

Nothing deep inside reads the environment: callers build a ``Settings`` once and pass it (or the
objects made from it) down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    mode: str = "embedded"
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
    close_of_business: str = "17:30"
    #: SLA alerts: warn this many working days before a deadline, escalate this many after it.
    sla_warning_workdays: int = 1
    sla_escalation_workdays: int = 1
    #: Seconds between SLA sweeps run in-process (embedded mode).
    sla_sweep_interval: float = 60.0
    #: Local time (HH:MM) after which embedded mode sends each zone's daily digest.
    sla_digest_at: str = "08:30"
    #: Attempts per notification before it is marked failed (backoff doubles from one minute).
    notify_max_attempts: int = 5
    #: Language of notifications when a route names none: ``zh-CN`` or ``en``.
    notify_language: str = "zh-CN"
    #: 补正期限 on the one-time notice: working days after the notice for the applicant to supplement.
    supplement_workdays: int = 10
    #: Demo mode (``tongban serve --demo``): the sign-in page shows the demo accounts' password.
    demo: bool = False
    #: Secret for session cookies and CSRF tokens (at least 32 characters, never a published default).
    #: Empty: embedded mode makes one in ``home/secret_key`` (0600) on first start; distributed refuses.
    secret_key: str = Field(default="", repr=False)
    #: Browser sessions (server-side, revocable): signed out after this many hours whatever happens,
    #: and counter (clerk) sessions after this many idle minutes (0 = no idle timeout).
    session_max_hours: float = 12.0
    session_idle_minutes: float = 15.0
    #: ``/docs`` and ``/openapi.json``: ``public``, ``login`` (signed-in users only) or ``off``.
    #: Empty: public in embedded mode, behind login in distributed mode.
    api_docs: str = ""

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
        self.api_docs_access()  # a misspelt value is refused at start, not at the first visit to /docs
        return self

    def api_docs_access(self) -> str:
        """``public``, ``login`` or ``off`` (see ``api_docs``)."""
        value = self.api_docs.strip().lower() or ("public" if self.mode == "embedded" else "login")
        if value not in ("public", "login", "off"):
            raise ValueError(f"TONGBAN_API_DOCS must be public, login or off, not {self.api_docs!r}")
        return value
    #: Proxies whose ``X-Forwarded-Proto``/``X-Forwarded-For`` are believed (comma-separated IPs, ``*`` for
    #: any): behind TLS-terminating nginx on the same host, ``127.0.0.1``. Empty: only the request's own
    #: scheme counts. Decides HSTS (sent only over HTTPS) and is passed to uvicorn's proxy headers.
    trusted_proxies: str = ""
    #: ``Strict-Transport-Security: max-age`` sent on HTTPS responses (0 turns HSTS off).
    hsts_max_age: int = 31536000

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

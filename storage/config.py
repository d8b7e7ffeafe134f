"""One settings class for the whole application (environment prefix ``TONGBAN_``).

Nothing deep inside reads the environment: callers build a ``Settings`` once and pass it (or the
objects made from it) down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    timezone: str = "Asia/Shanghai"
    #: Upload limit per file, in bytes.
    max_file_bytes: int = 200 * 1024 * 1024
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
    #: Proxies whose ``X-Forwarded-Proto``/``X-Forwarded-For`` are believed (comma-separated IPs, ``*`` for
    #: any): behind TLS-terminating nginx on the same host, ``127.0.0.1``. Empty: only the request's own
    #: scheme counts. Decides HSTS (sent only over HTTPS) and is passed to uvicorn's proxy headers.
    trusted_proxies: str = ""
    #: ``Strict-Transport-Security: max-age`` sent on HTTPS responses (0 turns HSTS off).
    hsts_max_age: int = 31536000
    #: Secret for session cookies and CSRF tokens.
    secret_key: str = "dev-insecure-change-me"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'tongban.db').resolve()}"

    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.home / 'objects').resolve()}"

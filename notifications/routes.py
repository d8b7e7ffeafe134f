"""Notification routes (通知路由): who hears of what, per zone and role, through which apprise URLs.

The routes file (``TONGBAN_NOTIFICATION_ROUTES``, YAML or JSON) is the one place that holds
channel URLs — they may carry tokens and passwords, so the database only ever names a channel::

    language: zh-CN                      # default language of messages (zh-CN or en)
    people: "mailtos://user:pass@smtp.example.gov.cn?from=tongban@example.gov.cn"
    channels:                            # named apprise URLs: mailto(s)://, json://, dingtalk://, wecom://, feishu://
      bj-window-dingtalk: "dingtalk://TOKEN/"
      tj-ops-webhook: {url: "json://10.0.0.5:8080/tongban", lang: en}
    levels:                              # which roles hear of each level (these are the defaults)
      warning: [clerk, reviewer, supervisor]
      overdue: [clerk, reviewer, supervisor]
      escalation: [supervisor]
    digest: [supervisor]                 # who gets the daily digest (默认: 主管)
    zones:
      BJ-ETOWN:
        clerk: [bj-window-dingtalk]
        supervisor: [bj-window-dingtalk, "user:bj_supervisor"]
      TJ-TEDA:
        reviewer: [tj-ops-webhook, users] # users = every active user of that role and zone with an e-mail
      "*":                               # every zone
        supervisor: [users]

An entry is a channel name, ``user:USERNAME`` (that person's e-mail through ``people``) or ``users``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.sla.models import LEVELS

ROLES = ("clerk", "reviewer", "supervisor", "admin")
LANGUAGES = ("zh-CN", "en")
DEFAULT_LEVEL_ROLES: dict[str, tuple[str, ...]] = {
    "warning": ("clerk", "reviewer", "supervisor"),
    "overdue": ("clerk", "reviewer", "supervisor"),
    "escalation": ("supervisor",),
}


class RoutesError(ValueError):
    """The routes file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Channel:
    name: str
    url: str
    lang: str


@dataclass
class Routes:
    language: str = "zh-CN"
    #: apprise e-mail URL without recipient; ``to=<address>`` is added per person.
    people: str | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    levels: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_LEVEL_ROLES))
    digest: tuple[str, ...] = ("supervisor",)
    #: zone code (or ``*``) → role → entries
    zones: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def entries(self, zone_code: str, roles: tuple[str, ...]) -> list[tuple[str, str]]:
        """``(role, entry)`` pairs a zone's roles name, the zone's own first, then ``*``; no repeats."""
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key in (zone_code, "*"):
            by_role = self.zones.get(key, {})
            for role in roles:
                for entry in by_role.get(role, ()):
                    if (role, entry) not in seen:
                        seen.add((role, entry))  # type: ignore[arg-type]
                        out.append((role, entry))
        return out

    def lang_of(self, recipient: str) -> str:
        if recipient.startswith("channel:"):
            ch = self.channels.get(recipient.removeprefix("channel:"))
            if ch is not None:
                return ch.lang
        return self.language

    def person_url(self, email: str) -> str | None:
        if not self.people or not email:
            return None
        sep = "&" if "?" in self.people else "?"
        return f"{self.people}{sep}to={email}"


def load_routes(path: Path | None) -> Routes:
    """Read the routes file; ``None`` means no channels (alerts are still raised and shown in the app)."""
    if path is None:
        return Routes()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutesError(f"notification routes file {path} does not exist") from None
    except OSError as exc:
        raise RoutesError(f"notification routes file {path} cannot be read: {exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the same refusal
        raise RoutesError(f"notification routes file {path} is not valid {path.suffix or 'JSON'}: {exc}") from None
    return parse_routes(raw or {}, where=str(path))


def parse_routes(raw: Any, *, where: str = "routes") -> Routes:
    if not isinstance(raw, dict):
        raise RoutesError(f"{where}: expected a mapping with channels, zones, levels")
    unknown = set(raw) - {"language", "people", "channels", "levels", "digest", "zones"}
    if unknown:
        raise RoutesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    language = str(raw.get("language") or "zh-CN")
    if language not in LANGUAGES:
        raise RoutesError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    routes = Routes(language=language, people=(str(raw["people"]) if raw.get("people") else None))

    for name, spec in (raw.get("channels") or {}).items():
        url, lang = (spec, language) if isinstance(spec, str) else (
            (spec.get("url"), spec.get("lang", language)) if isinstance(spec, dict) else (None, language))
        if not isinstance(url, str) or "://" not in url:
            raise RoutesError(f"{where}: channel {name!r} needs an apprise URL (e.g. mailtos://…, json://…)")
        if lang not in LANGUAGES:
            raise RoutesError(f"{where}: channel {name!r}: lang must be one of {', '.join(LANGUAGES)}")
        routes.channels[str(name)] = Channel(str(name), url, lang)

    for level, roles in (raw.get("levels") or {}).items():
        if level not in LEVELS:
            raise RoutesError(f"{where}: levels: unknown level {level!r} (warning, overdue, escalation)")
        routes.levels[level] = _roles(roles, f"{where}: levels.{level}")
    if "digest" in raw:
        routes.digest = _roles(raw["digest"], f"{where}: digest")

    for zone, by_role in (raw.get("zones") or {}).items():
        if not isinstance(by_role, dict):
            raise RoutesError(f"{where}: zones.{zone} maps roles to lists of channels")
        table: dict[str, tuple[str, ...]] = {}
        for role, entries in by_role.items():
            if role not in ROLES:
                raise RoutesError(f"{where}: zones.{zone}: unknown role {role!r} ({', '.join(ROLES)})")
            if isinstance(entries, str):
                entries = [entries]
            if not isinstance(entries, list):
                raise RoutesError(f"{where}: zones.{zone}.{role} is a list of channels")
            for entry in entries:
                _check_entry(routes, str(entry), f"{where}: zones.{zone}.{role}")
            table[role] = tuple(str(e) for e in entries)
        routes.zones[str(zone)] = table
    return routes


def _roles(value: Any, where: str) -> tuple[str, ...]:
    roles = [value] if isinstance(value, str) else value
    if not isinstance(roles, list) or any(r not in ROLES for r in roles):
        raise RoutesError(f"{where}: a list of roles ({', '.join(ROLES)})")
    return tuple(roles)


def _check_entry(routes: Routes, entry: str, where: str) -> None:
    if entry == "users" or entry.startswith("user:"):
        if not routes.people:
            raise RoutesError(f"{where}: {entry!r} reaches people by e-mail: set 'people' to an apprise mailto URL")
        if entry.startswith("user:") and not entry.removeprefix("user:"):
            raise RoutesError(f"{where}: 'user:' needs a username")
        return
    if entry not in routes.channels:
        raise RoutesError(f"{where}: {entry!r} is not a channel (known: {', '.join(sorted(routes.channels))})")

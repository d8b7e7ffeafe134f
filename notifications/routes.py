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
    results: [clerk]                     # who at the receiving zone hears of a result (默认: 窗口)
    zones:
      BJ-ETOWN:
        clerk: [bj-window-dingtalk]
        supervisor: [bj-window-dingtalk, "user:bj_supervisor"]
      TJ-TEDA:
        reviewer: [tj-ops-webhook, users] # users = every active user of that role and zone with an e-mail
      "*":                               # every zone
        supervisor: [users]

An entry is a channel name, ``user:USERNAME`` (that person's e-mail through ``people``) or ``users``.

Who may change what (issue 10.9). A channel may name its owner zone (``{url: …, zone: BJ-ETOWN}``);
one without is platform-wide. A zone's admin reads and rewrites only the zone's part: the channels it
owns (URLs included) and ``zones.<ITS CODE>`` — see :func:`zone_view` and :func:`merge_zone_view`;
its table may name its own channels, platform channels (by name; their URLs stay hidden), ``users``
and ``user:NAME`` of its own people. Everything else — ``language``, ``people`` (the SMTP account),
``levels``, ``digest``, ``results``, ``zones."*"``, other zones and platform channels — is the platform's: only a
platform admin (an admin with ``users.platform_admin``, granted by ``tongban user platform-admin``)
sees and edits the whole file.
"""

from __future__ import annotations

import copy
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
    #: The zone whose admins own it; ``None``: platform-wide.
    zone: str | None = None


@dataclass
class Routes:
    language: str = "zh-CN"
    #: apprise e-mail URL without recipient; ``to=<address>`` is added per person.
    people: str | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    levels: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_LEVEL_ROLES))
    digest: tuple[str, ...] = ("supervisor",)
    #: Who at the receiving zone hears of a result (decided, mailed, ready for pickup): the window.
    results: tuple[str, ...] = ("clerk",)
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
    return parse_routes(read_raw(Path(path)), where=str(path))


def read_raw(path: Path) -> dict[str, Any]:
    """The routes file as data (YAML by suffix, else JSON), before any check of its entries."""
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
    return raw or {}  # type: ignore[no-any-return]


def parse_routes(raw: Any, *, where: str = "routes") -> Routes:
    if not isinstance(raw, dict):
        raise RoutesError(f"{where}: expected a mapping with channels, zones, levels")
    unknown = set(raw) - {"language", "people", "channels", "levels", "digest", "results", "zones"}
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
        owner = spec.get("zone") if isinstance(spec, dict) else None
        if owner is not None and (not isinstance(owner, str) or not owner):
            raise RoutesError(f"{where}: channel {name!r}: zone is a zone code (or absent: platform-wide)")
        routes.channels[str(name)] = Channel(str(name), url, lang, owner)

    for level, roles in (raw.get("levels") or {}).items():
        if level not in LEVELS:
            raise RoutesError(f"{where}: levels: unknown level {level!r} (warning, overdue, escalation)")
        routes.levels[level] = _roles(roles, f"{where}: levels.{level}")
    if "digest" in raw:
        routes.digest = _roles(raw["digest"], f"{where}: digest")
    if "results" in raw:
        routes.results = _roles(raw["results"], f"{where}: results")

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


# --- a zone's own part of the file (issue 10.9) ---------------------------------------------------------

ZONE_VIEW_KEYS = ("channels", "zones")


def channel_owner(spec: Any) -> str | None:
    """The zone owning a channel entry of the raw file, ``None`` for a platform-wide one."""
    owner = spec.get("zone") if isinstance(spec, dict) else None
    return owner if isinstance(owner, str) and owner else None


def zone_view(raw: dict[str, Any], zone: str) -> dict[str, Any]:
    """What a zone's admin sees and edits: the channels the zone owns (without the ``zone`` key) and
    ``zones.<zone>``. Nothing of the platform's or another zone's part, no other URL."""
    channels: dict[str, Any] = {}
    for name, spec in (raw.get("channels") or {}).items():
        if channel_owner(spec) == zone:
            shown = {k: v for k, v in spec.items() if k != "zone"}
            channels[str(name)] = shown["url"] if set(shown) == {"url"} else shown
    return {"channels": channels, "zones": {zone: copy.deepcopy((raw.get("zones") or {}).get(zone) or {})}}


def platform_channel_names(raw: dict[str, Any]) -> list[str]:
    """Platform-wide channels a zone's table may name (their URLs are not shown to zone admins)."""
    return sorted(str(n) for n, spec in (raw.get("channels") or {}).items() if channel_owner(spec) is None)


def merge_zone_view(raw: dict[str, Any], zone: str, submitted: Any, *, zone_users: set[str],
                    where: str = "routes") -> dict[str, Any]:
    """The whole file after a zone admin saved ``submitted`` (shaped as :func:`zone_view`).

    Refused (:class:`RoutesError`, nothing changed) when it reaches outside the zone: another key than
    ``channels``/``zones``, another zone's table, a channel name another zone or the platform owns, a
    ``zone`` other than its own, an entry naming another zone's channel or a user who is not the zone's.
    The caller still validates the result with :func:`parse_routes` before writing it.
    """
    if not isinstance(submitted, dict):
        raise RoutesError(f"{where}: expected a mapping with channels and zones.{zone}")
    unknown = set(submitted) - set(ZONE_VIEW_KEYS)
    if unknown:
        raise RoutesError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                          f"(a zone's admin edits channels and zones.{zone}; the rest is the platform's)")
    zones = submitted.get("zones") or {}
    if not isinstance(zones, dict):
        raise RoutesError(f"{where}: zones maps {zone} to its roles")
    others = sorted(str(z) for z in zones if z != zone)
    if others:
        raise RoutesError(f"{where}: zones.{others[0]} is not your zone's: you may edit zones.{zone} only")
    channels = submitted.get("channels") or {}
    if not isinstance(channels, dict):
        raise RoutesError(f"{where}: channels maps names to apprise URLs")
    existing = raw.get("channels") or {}
    own: dict[str, Any] = {}
    for name, spec in channels.items():
        name = str(name)
        if name in existing and channel_owner(existing[name]) != zone:
            owner = channel_owner(existing[name])
            raise RoutesError(f"{where}: channel {name!r} belongs to "
                              f"{'zone ' + owner if owner else 'the platform'}: choose another name")
        if isinstance(spec, dict):
            if spec.get("zone") not in (None, zone):
                raise RoutesError(f"{where}: channel {name!r}: a channel you add belongs to {zone}")
            own[name] = {**spec, "zone": zone}
        else:
            own[name] = {"url": spec, "zone": zone}
    platform = set(platform_channel_names(raw))
    table = zones.get(zone) or {}
    if not isinstance(table, dict):
        raise RoutesError(f"{where}: zones.{zone} maps roles to lists of channels")
    for role, entries in table.items():
        for entry in [entries] if isinstance(entries, str) else entries if isinstance(entries, list) else []:
            entry = str(entry)
            if entry == "users" or entry in own or entry in platform:
                continue
            if entry.startswith("user:"):
                if entry.removeprefix("user:") not in zone_users:
                    raise RoutesError(f"{where}: zones.{zone}.{role}: {entry!r} is not a user of {zone}")
                continue
            if entry in existing:
                raise RoutesError(f"{where}: zones.{zone}.{role}: {entry!r} is another zone's channel")
            known = ", ".join(sorted(own) + sorted(platform)) or "none yet"
            raise RoutesError(f"{where}: zones.{zone}.{role}: {entry!r} is not a channel (yours and the "
                              f"platform's: {known})")
    merged = copy.deepcopy(raw)
    kept = {n: spec for n, spec in existing.items() if channel_owner(spec) != zone}
    merged["channels"] = {**kept, **own}
    merged_zones = dict(merged.get("zones") or {})
    if table:
        merged_zones[zone] = table
    else:
        merged_zones.pop(zone, None)
    merged["zones"] = merged_zones
    return merged

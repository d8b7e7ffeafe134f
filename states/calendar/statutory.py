"""The provisional calendar of a year the State Council has not yet published (docs/architecture.md#deadlines).

《全国年节及纪念日放假办法》 as revised in 2024 fixes the public holidays every citizen has (13 days):
元旦 1 (1 January), 春节 4 (除夕 to 正月初三), 清明节 1 (the solar term), 劳动节 2 (1–2 May), 端午节 1
(五月初五), 中秋节 1 (八月十五), 国庆节 3 (1–3 October). Its article 6 gives a make-up day off (补假) on
a working day for each of those days that falls on a Saturday or Sunday; by long practice that is the
next working day after the holiday. The 调休 working days and the bridge days the annual notice adds
cannot be known before it is published, so a provisional year has none.

The lunar and solar-term dates come from the ``holidays`` package's China calendar (it computes
them; this module does not hand-write a lunar calendar); the rules above are applied here, so a
change of that package's own choices for China cannot change what tongban promises.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

__all__ = ["FESTIVALS", "PROVISIONAL_NOTE", "makeup_days", "provisional_days", "statutory_days"]

#: Shown next to every provisional date (暂定): what it depends on.
PROVISIONAL_NOTE = "以国务院办公厅公布的节假日安排为准"

#: The festivals of the 2024 rules: the ``holidays`` package's English name → (Chinese name, days).
FESTIVALS: dict[str, tuple[str, int]] = {
    "New Year's Day": ("元旦", 1),
    "Chinese New Year's Eve": ("春节", 1),  # 除夕, the first of the four 春节 days
    "Chinese New Year (Spring Festival)": ("春节", 3),
    "Tomb-Sweeping Day": ("清明节", 1),
    "Labor Day": ("劳动节", 2),
    "Dragon Boat Festival": ("端午节", 1),
    "Mid-Autumn Festival": ("中秋节", 1),
    "National Day": ("国庆节", 3),
}
#: The first year the 2024 revision applies to (it took effect on 1 January 2025).
FIRST_YEAR = 2025


@cache
def statutory_days(year: int) -> dict[date, str]:
    """Every statutory holiday of ``year`` under the 2024 rules → its Chinese name (e.g. ``春节``).

    Raises ``LookupError`` when the lunar source has no data for the year or its festivals do not add
    up to the 13 days the rules fix (then the year is better refused than guessed).
    """
    if year < FIRST_YEAR:
        raise LookupError(f"the 2024 holiday rules apply from {FIRST_YEAR}; {year} is earlier")
    try:
        source = holidays.China(years=year, observed=False)
    except NotImplementedError as exc:  # pragma: no cover - the package covers far beyond any case
        raise LookupError(f"no lunar calendar data for {year}: {exc}") from None
    found: dict[date, str] = {}
    counts: dict[str, int] = {}
    for day, names in sorted(source.items()):
        for english in str(names).split("; "):
            if english not in FESTIVALS:
                continue  # e.g. a day the package knows from an older notice; not a statutory rule
            chinese = FESTIVALS[english][0]
            counts[english] = counts.get(english, 0) + 1
            # Two festivals on one day (中秋 on 1 October) are one day off: the rules give no extra day.
            found[day] = f"{found[day]}、{chinese}" if day in found and chinese not in found[day] else chinese
    wrong = {name: (counts.get(name, 0), n) for name, (_, n) in FESTIVALS.items() if counts.get(name, 0) != n}
    if wrong:
        raise LookupError(f"the lunar calendar source gives {year} unexpected festival days: {wrong}")
    return found


def makeup_days(year: int) -> dict[date, str]:
    """Article 6 补假: for each statutory day on a Saturday or Sunday, the next working day after it
    that is not itself a holiday or another make-up day → ``"<festival> 补假"``."""
    rest = statutory_days(year)
    out: dict[date, str] = {}
    for day, name in sorted(rest.items()):
        if day.weekday() < 5:
            continue
        candidate = day + timedelta(days=1)
        while candidate.weekday() >= 5 or candidate in rest or candidate in out:
            candidate += timedelta(days=1)
        out[candidate] = f"{name} 补假"
    return out


def provisional_days(year: int) -> dict[date, str]:
    """Every day off of a provisional year besides the weekends: statutory holidays and their 补假."""
    return {**statutory_days(year), **makeup_days(year)}

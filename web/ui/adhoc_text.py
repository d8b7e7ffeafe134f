"""The words of the 协作机制 (一事一议) pages that the shared layout shows (the navigation entry)."""

from __future__ import annotations

from web.ui import i18n

i18n.ZH.setdefault("nav.adhoc", "一事一议")
i18n.EN.setdefault("nav.adhoc", "Ad-hoc requests")
for _event, _zh, _en in (("adhoc_terms", "一事一议约定（材料与时限）", "ad-hoc terms"),):
    i18n.EVENT_LABELS_ZH.setdefault(_event, _zh)
    i18n.EVENT_LABELS_EN.setdefault(_event, _en)

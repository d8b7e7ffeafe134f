"""事项分类 at the kiosk: the catalog's code prefix names the field of administration (QY = 企业登记)."""

from __future__ import annotations

#: Code prefix → category, in the order the kiosk shows them.
CATEGORIES: dict[str, str] = {
    "QY": "企业登记", "GT": "个体工商户", "WZ": "外商投资", "SP": "食品经营", "YP": "药品医疗器械",
    "RS": "人力资源", "SB": "社会保险", "JT": "交通运输", "JZ": "建筑业", "HB": "生态环境",
    "TZ": "特种设备", "CB": "新闻出版",
}
OTHER = "其他事项"


def category_of(code: str) -> str:
    return CATEGORIES.get(code.split("-", 1)[0].upper(), OTHER)


def categories_in(codes: list[str]) -> list[str]:
    """The categories that have at least one of these items, in the kiosk's order (其他 last)."""
    present = {category_of(c) for c in codes}
    return [c for c in (*CATEGORIES.values(), OTHER) if c in present]

"""Active content in a PDF (活动内容): what a viewer would run or open by itself, found and removed.

"Active" is everything that makes a viewer do more than show pages: JavaScript (document-level,
``/OpenAction``, the ``/AA`` additional actions of the document, pages, annotations and form
fields, ``/JavaScript`` link actions), actions that launch programs or reach out (``/Launch``,
``/SubmitForm``, ``/ImportData``, ``/GoToE``, ``/GoToR``, rich media, renditions, movies, sounds),
embedded files (``/EmbeddedFiles``, file-attachment annotations) and XFA forms.

Intake refuses such a file (:func:`find_active_content`); the transfer packet is additionally
stripped of it (:func:`strip_active_content`), so a file that reached the store before the check
existed still reaches the reviewer without it. Plain links (``/URI``), go-to-page links and named
actions (next page, print) are not active content and stay.

The walk never reads stream data and never follows ``/Contents``, ``/Resources`` or ``/Parent``:
actions do not live there, and skipping them keeps a large scan's images out of memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

#: Action types (``/S``) a viewer runs or uses to open something outside the page.
ACTIVE_ACTIONS: dict[str, str] = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit_form",
    "/ImportData": "import_data",
    "/GoToE": "embedded_file",
    "/GoToR": "remote_file",
    "/RichMediaExecute": "rich_media",
    "/Rendition": "media",
    "/Movie": "media",
    "/Sound": "media",
}
#: Annotation types that carry a file or a player.
ACTIVE_ANNOTATIONS: dict[str, str] = {
    "/FileAttachment": "embedded_file",
    "/RichMedia": "rich_media",
    "/Screen": "media",
    "/Movie": "media",
    "/Sound": "media",
    "/3D": "media",
}
#: Keys never followed: page content and resources hold no actions; ``/Parent`` and ``/P`` lead back up.
_SKIP_KEYS = frozenset({"/Contents", "/Resources", "/Parent", "/P", "/Thumb", "/Font", "/XObject", "/Metadata"})
#: A hostile file must not make the walk itself expensive.
MAX_OBJECTS = 200_000

#: Each kind of finding, as a clerk reads it.
LABELS: dict[str, tuple[str, str]] = {
    "javascript": ("JavaScript", "JavaScript 脚本"),
    "open_action": ("an action run when the file is opened", "打开文件时自动执行的动作"),
    "additional_action": ("actions run on page or field events (/AA)", "页面或表单事件触发的动作（/AA）"),
    "launch": ("a link that starts a program (/Launch)", "启动外部程序的链接（/Launch）"),
    "submit_form": ("a form that sends data elsewhere", "向外部提交数据的表单"),
    "import_data": ("an action importing outside data", "导入外部数据的动作"),
    "embedded_file": ("embedded files", "内嵌文件"),
    "remote_file": ("a link opening another file", "打开其他文件的链接"),
    "rich_media": ("rich media (Flash, 3D)", "富媒体（Flash、3D）"),
    "media": ("embedded media players", "内嵌媒体播放"),
    "xfa": ("an XFA form", "XFA 动态表单"),
}


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _dicts(root: PdfObject) -> Iterator[DictionaryObject]:
    """Every dictionary reachable from ``root`` (each indirect object once), skipping ``_SKIP_KEYS``."""
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            visited += 1
            if visited > MAX_OBJECTS:
                return
            try:
                item = item.get_object()
            except Exception:  # a dangling reference in a damaged file: nothing to run there
                continue
        if isinstance(item, DictionaryObject):  # streams are dictionaries too; their data is not read
            yield item
            stack.extend(v for k, v in item.items() if k not in _SKIP_KEYS)
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def _kinds_of(d: DictionaryObject, *, is_root: bool) -> list[str]:
    found: list[str] = []
    action = d.get("/S")
    if isinstance(action, NameObject) and action in ACTIVE_ACTIONS:
        found.append(ACTIVE_ACTIONS[action])
    if "/JS" in d:
        found.append("javascript")
    if "/AA" in d:
        found.append("additional_action")
    if is_root and "/OpenAction" in d and isinstance(_resolve(d["/OpenAction"]), DictionaryObject):
        opener = _resolve(d["/OpenAction"])
        if opener.get("/S") in ACTIVE_ACTIONS or "/JS" in opener:
            found.append("open_action")
    subtype = d.get("/Subtype")
    if isinstance(subtype, NameObject) and subtype in ACTIVE_ANNOTATIONS and d.get("/Type", "/Annot") == "/Annot":
        found.append(ACTIVE_ANNOTATIONS[subtype])
    if d.get("/Type") == "/EmbeddedFile" or "/EF" in d or "/EmbeddedFiles" in d:
        found.append("embedded_file")
    if "/JavaScript" in d and isinstance(_resolve(d["/JavaScript"]), DictionaryObject):  # the /Names tree
        found.append("javascript")
    if "/XFA" in d:
        found.append("xfa")
    return found


def find_active_content(root: PdfObject) -> list[str]:
    """The kinds of active content reachable from a document catalog (``reader.trailer["/Root"]``),
    sorted, each once; empty when there is none."""
    catalog = _resolve(root)
    kinds: set[str] = set()
    for d in _dicts(root):
        kinds.update(_kinds_of(d, is_root=d is catalog))
    return sorted(kinds)


def describe(kinds: list[str]) -> tuple[str, str]:
    """The findings as English and Chinese text for a refusal message."""
    en = ", ".join(LABELS.get(k, (k, k))[0] for k in kinds)
    zh = "、".join(LABELS.get(k, (k, k))[1] for k in kinds)
    return en, zh


def strip_active_content(root: PdfObject) -> int:
    """Remove every active part reachable from a writer's catalog, in place; return how many were removed.

    Actions and scripts are deleted (a link that would launch a program becomes a dead rectangle),
    file-carrying and media annotations are taken off their pages, embedded-file and JavaScript name
    trees and XFA forms are dropped. Pages, text and images are untouched.
    """
    removed = 0
    catalog = _resolve(root)
    for d in list(_dicts(root)):
        for key in ("/AA", "/JS"):
            if key in d:
                del d[key]
                removed += 1
        if d is catalog and "/OpenAction" in d:
            opener = _resolve(d["/OpenAction"])
            if isinstance(opener, DictionaryObject) and (opener.get("/S") in ACTIVE_ACTIONS or "/JS" in opener):
                del d["/OpenAction"]
                removed += 1
        action = _resolve(d.get("/A"))
        if isinstance(action, DictionaryObject) and action.get("/S") in ACTIVE_ACTIONS:
            del d["/A"]
            removed += 1
        nxt = d.get("/Next")  # chained actions
        if nxt is not None and _chain_active(nxt):
            del d["/Next"]
            removed += 1
        if d.get("/S") in ACTIVE_ACTIONS:  # an action dictionary itself (perhaps shared): make it inert
            d[NameObject("/S")] = NameObject("/Named")
            d[NameObject("/N")] = NameObject("/None")
            removed += 1
        for key in ("/EmbeddedFiles", "/XFA"):
            if key in d:
                del d[key]
                removed += 1
        if "/JavaScript" in d and isinstance(_resolve(d["/JavaScript"]), DictionaryObject):
            del d["/JavaScript"]
            removed += 1
        annots = _resolve(d.get("/Annots"))
        if isinstance(annots, ArrayObject):
            keep = ArrayObject(a for a in annots if _resolve(a) is None or _resolve(a).get("/Subtype")
                               not in ACTIVE_ANNOTATIONS)
            if len(keep) != len(annots):
                removed += len(annots) - len(keep)
                d[NameObject("/Annots")] = keep
        if "/EF" in d:  # a file specification carrying the file itself
            del d["/EF"]
            removed += 1
    return removed


def _chain_active(nxt: Any) -> bool:
    items = _resolve(nxt)
    seq = items if isinstance(items, ArrayObject) else [items]
    for item in seq:
        a = _resolve(item)
        if isinstance(a, DictionaryObject) and (a.get("/S") in ACTIVE_ACTIONS or "/JS" in a):
            return True
    return False

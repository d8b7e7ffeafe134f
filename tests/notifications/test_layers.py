"""The packages import one way (docs/architecture.md, "Layers"): messaging sits below the domain, so
``states`` may ask ``notifications`` to tell someone, and ``notifications`` never reaches back into
``states`` (nor into the flows or the web). Read from the source with ``ast``, so a lazy import inside
a function counts as much as one at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"config", "documents", "flows", "states", "storage", "notifications", "privacy", "web", "bench"}

#: package → the packages of ours it must never import.
FORBIDDEN = {
    "privacy": OURS - {"privacy"},
    "config": OURS - {"config"},
    "storage": OURS - {"storage", "config", "privacy"},
    "notifications": {"states", "flows", "web", "documents", "bench"},
    "states": {"flows", "bench"},
}


def imports_of(package: str) -> list[tuple[str, int, str]]:
    """(file, line, imported top-level package of ours) for every import in ``package``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in OURS and top != package:
                    found.append((str(path.relative_to(ROOT)), node.lineno, top))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_a_higher_one(package: str) -> None:
    wrong = [f"{file}:{line} imports {top}" for file, line, top in imports_of(package) if top in FORBIDDEN[package]]
    assert wrong == [], f"{package} must not import {sorted(FORBIDDEN[package])}: {wrong}"


def test_states_do_tell_notifications_so_the_direction_is_real() -> None:
    """The check above would pass on an empty tree: the domain does use messaging, one way."""
    assert any(top == "notifications" for _, _, top in imports_of("states"))
    assert imports_of("notifications")  # and messaging uses storage/privacy, never states


def test_the_check_sees_a_wrong_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file in notifications importing states, even lazily, is caught."""
    fake = tmp_path / "notifications"
    fake.mkdir()
    (fake / "bad.py").write_text("def f():\n    from states.lifecycle import STATE_LABELS\n    return STATE_LABELS\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert imports_of("notifications") == [("notifications/bad.py", 2, "states")]

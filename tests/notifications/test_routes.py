"""The routes file an admin writes: YAML or JSON, refused with a message naming the entry when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifications.routes import RoutesError, load_routes

EXAMPLE = """\
language: zh-CN
people: "mailtos://tongban:secret@smtp.example.gov.cn?from=tongban@example.gov.cn"
channels:
  bj-dingtalk: "dingtalk://TOKEN/"
  tj-webhook: {url: "json://10.0.0.5:8080/tongban", lang: en}
levels:
  warning: [clerk]
zones:
  BJ-ETOWN:
    clerk: [bj-dingtalk]
    supervisor: [bj-dingtalk, "user:bj_supervisor"]
  "*":
    supervisor: [users, tj-webhook]
"""


def test_an_admin_writes_routes_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    routes = load_routes(path)
    assert routes.channels["tj-webhook"].lang == "en" and routes.lang_of("channel:tj-webhook") == "en"
    assert routes.lang_of("user:bj_supervisor") == "zh-CN"
    assert routes.levels["warning"] == ("clerk",)
    assert routes.levels["escalation"] == ("supervisor",)  # defaults kept for levels not named
    # A zone's own routes come first, then those for every zone; none twice.
    assert routes.entries("BJ-ETOWN", ("clerk", "supervisor")) == [
        ("clerk", "bj-dingtalk"), ("supervisor", "bj-dingtalk"), ("supervisor", "user:bj_supervisor"),
        ("supervisor", "users"), ("supervisor", "tj-webhook")]
    assert routes.entries("TJ-TEDA", ("clerk",)) == []
    assert routes.person_url("a@b.cn") == (
        "mailtos://tongban:secret@smtp.example.gov.cn?from=tongban@example.gov.cn&to=a@b.cn")


@pytest.mark.parametrize(("text", "named"), [
    ('{"zones": {"BJ-ETOWN": {"clerk": ["nowhere"]}}}', "'nowhere' is not a channel"),
    ('{"zones": {"BJ-ETOWN": {"janitor": []}}}', "unknown role 'janitor'"),
    ('{"zones": {"BJ-ETOWN": {"clerk": ["users"]}}}', "set 'people'"),
    ('{"channels": {"x": "not a url"}}', "channel 'x' needs an apprise URL"),
    ('{"levels": {"panic": ["clerk"]}}', "unknown level 'panic'"),
    ('{"language": "fr"}', "language must be one of"),
    ('{"chanels": {}}', "unknown key(s) chanels"),
    ("{not json", "is not valid"),
])
def test_a_wrong_routes_file_is_refused_naming_the_entry(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "routes.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutesError) as err:
        load_routes(path)
    assert named in str(err.value) and str(path) in str(err.value)


def test_a_missing_routes_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RoutesError, match="does not exist"):
        load_routes(tmp_path / "nope.yaml")

"""The audit chain on its own (storage/audit): append-only, hash-chained per case, its head on the
case row — and verify finds an event deleted (in the middle or at the end), changed or inserted.

On SQLite and PostgreSQL; the cases come from the real intake and transition services.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from states.transition import service as transitions
from states.transition.rules import SYSTEM
from storage.audit import service as audit
from storage.audit.models import AuditEvent
from storage.calendar import bulk
from storage.case.models import Case
from storage.db import transaction
from tests.states.world import NOW, World, world

__all__ = ["world"]


def story(w: World) -> tuple[str, int]:
    """A case with four events in its trail: receive, precheck_pass, forward, accept."""
    case_no = w.receive()
    for who, ev in (("bj_clerk", "precheck_pass"), (None, "forward"), ("tj_reviewer", "accept")):
        actor = SYSTEM if who is None else w.actor(who)
        with transaction(w.runtime.session_factory) as s:
            transitions.apply_event(db_session=s, case_no=case_no, actor=actor, event=ev, version=None, payload={},
                                    now=NOW, clock=w.runtime.clock)
    with transaction(w.runtime.session_factory) as s:
        return case_no, transitions.get_case(db_session=s, case_no=case_no).id


def problems(w: World, case_no: str, case_id: int) -> list[str]:
    with transaction(w.runtime.session_factory) as s:
        return audit.verify_chain(db_session=s, case_id=case_id, case_no=case_no)


def test_an_untouched_trail_verifies_and_its_head_is_on_the_case_row(world: World) -> None:
    case_no, cid = story(world)
    assert problems(world, case_no, cid) == []
    with transaction(world.runtime.session_factory) as s:
        events = audit.list_events(db_session=s, case_id=cid)
        case = s.get(Case, cid)
        assert case is not None
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert [e.prev_hash for e in events] == [audit.GENESIS] + [e.hash for e in events[:-1]]
        assert (case.audit_seq, case.audit_head) == (4, events[-1].hash)


def test_a_deleted_event_in_the_middle_is_found(world: World) -> None:
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        s.execute(delete(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.seq == 2))
    found = problems(world, case_no, cid)
    assert any("#2 is missing" in p for p in found) and any("link" in p for p in found), found


def test_a_deleted_last_event_is_found_by_the_head_on_the_case_row(world: World) -> None:
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        s.execute(delete(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.seq == 4))
    found = problems(world, case_no, cid)
    assert found == ["the audit trail ends at #3, but the case row's chain head is #4: events were removed or added "
                     "outside the system"]


def test_a_changed_event_is_found(world: World) -> None:
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        s.execute(update(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.seq == 3)
                  .values(actor="someone_else"))
    assert problems(world, case_no, cid) == ["audit event #3 (forward) was altered: its hash does not match"]


def test_an_inserted_event_is_found_even_with_a_correct_hash(world: World) -> None:
    """A forger who appends a well-formed event #5 (right link, right hash) still misses the head."""
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        last = s.scalars(select(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.seq == 4)).one()
        digest = audit.event_hash(case_no=case_no, seq=5, at=NOW, actor="forger", actor_role="clerk", event="reject",
                                  from_state="accepted", to_state="rejected", version=last.version + 1, payload={},
                                  prev_hash=last.hash)
        audit.insert_event(db_session=s, case_id=cid, seq=5, prev_hash=last.hash, hash=digest, at=NOW, actor="forger",
                           actor_role="clerk", event="reject", from_state="accepted", to_state="rejected",
                           version=last.version + 1, payload={})
    assert problems(world, case_no, cid) == [
        "the audit trail ends at #5, but the case row's chain head is #4: events were removed or added outside "
        "the system"]


def test_an_event_inserted_in_the_middle_breaks_the_links(world: World) -> None:
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        for seq in (4, 3):  # make room for a new #3
            s.execute(update(AuditEvent).where(AuditEvent.case_id == cid, AuditEvent.seq == seq).values(seq=seq + 1))
        audit.insert_event(db_session=s, case_id=cid, seq=3, prev_hash="f" * 64, hash="e" * 64, at=NOW,
                           actor="forger", actor_role="clerk", event="note", from_state="prechecked",
                           to_state="prechecked", version=3, payload={})
    found = problems(world, case_no, cid)
    assert any("#3 (note) was altered" in p for p in found) and any("link" in p for p in found), found


def test_append_moves_the_head_and_leaves_the_version_alone(world: World) -> None:
    case_no, cid = story(world)
    with transaction(world.runtime.session_factory) as s:
        case = s.get(Case, cid)
        assert case is not None
        version = case.version
        row = audit.append(db_session=s, case_id=cid, case_no=case_no, at=NOW, actor="tj_reviewer",
                           actor_role="reviewer", event="attach_result", from_state=case.state, to_state=case.state,
                           version=case.version, payload={"files": [{"name": "决定书.pdf"}]})
        assert (row.seq, case.audit_seq, case.audit_head) == (5, 5, row.hash)  # the loaded row kept in step
    with transaction(world.runtime.session_factory) as s:
        case = s.get(Case, cid)
        assert case is not None and case.version == version and case.audit_seq == 5
    assert problems(world, case_no, cid) == []


def test_two_events_with_one_number_are_refused_by_the_database(world: World) -> None:
    case_no, cid = story(world)
    with pytest.raises(IntegrityError), transaction(world.runtime.session_factory) as s:
        audit.insert_event(db_session=s, case_id=cid, seq=4, prev_hash="0" * 64, hash="1" * 64, at=NOW, actor="x",
                           actor_role="clerk", event="note", from_state=None, to_state="accepted", version=1,
                           payload={})
    assert problems(world, case_no, cid) == []


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_plain = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | _text,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                      max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(case_no=_text, actor=_text, event=_text, from_state=st.none() | _text, to_state=_text,
       version=st.integers(0, 10**6), payload=st.dictionaries(_text, _plain, max_size=4), prev_seq=st.integers(0, 99))
def test_events_chained_in_bulk_hash_exactly_as_one_event_does(case_no: str, actor: str, event: str,
                                                               from_state: str | None, to_state: str, version: int,
                                                               payload: dict[str, Any], prev_seq: int) -> None:
    # A calendar recompute hashes 100,000 events from parts; tongban verify recomputes each with
    # event_hash, so the two must agree on any text (quotes, 中文, control characters) and payload.
    heads = {7: (prev_seq, "ab" * 32)}
    as_dict, as_text = (audit.chain_events([dict(case_id=7, case_no=case_no, at=NOW, actor=actor, actor_role="system",
                                                 event=event, from_state=from_state, to_state=to_state,
                                                 version=version, **extra)], dict(heads))[0]
                        for extra in ({"payload": payload}, {"payload_json": audit.canonical_json(payload)}))
    expected = audit.event_hash(case_no=case_no, seq=prev_seq + 1, at=NOW, actor=actor, actor_role="system",
                                event=event, from_state=from_state, to_state=to_state, version=version,
                                payload=json.loads(as_dict.payload), prev_hash="ab" * 32)
    assert as_dict.hash == as_text.hash == expected and as_dict.seq == prev_seq + 1
    assert json.loads(as_dict.payload) == payload


def test_events_written_in_bulk_extend_the_trail_and_verify(world: World) -> None:
    # The calendar recompute's path: heads from the case rows, chained in Python, one bulk insert,
    # the heads moved in the recompute's own UPDATE of the cases.
    trails = [story(world) for _ in range(3)]
    with transaction(world.runtime.session_factory) as s:
        heads = {cid: (seq, head) for cid, seq, head in s.execute(
            select(Case.id, Case.audit_seq, Case.audit_head).where(Case.id.in_([c for _, c in trails])))}
        events = [dict(case_id=cid, case_no=no, at=NOW, actor="system", actor_role="system",
                       event="calendar_recomputed", from_state="accepted", to_state="accepted", version=4,
                       payload={"reason": "calendar 2027 published", "due_at": {"from": "a", "to": "b"}})
                  for no, cid in trails]
        rows = audit.chain_events(events + events[:1], heads)  # the first case twice: chained in order
        assert bulk.insert_audit_rows(s.connection(), rows) == 4
        for cid, (seq, head) in heads.items():
            s.execute(update(Case).where(Case.id == cid).values(audit_seq=seq, audit_head=head))
    assert [problems(world, no, cid) for no, cid in trails] == [[], [], []]
    with transaction(world.runtime.session_factory) as s:
        first = audit.list_events(db_session=s, case_id=trails[0][1])
        assert [e.seq for e in first][-2:] == [5, 6] and first[-1].payload["due_at"] == {"from": "a", "to": "b"}

"""The pure planner: the table cases, and convergence under any edits on both sides (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sync.planner import (
    Decision,
    Item,
    Merge,
    Op,
    Winner,
    first_sight,
    merge_fields,
    merge_items,
    missing_need_confirming,
    plan_item,
)


@pytest.mark.parametrize(
    ("item", "op"),
    [
        (Item(None, None, None, None), Op.FORGET),
        (Item(None, None, "a", None), Op.PUSH_CREATE),
        (Item(None, None, None, "r"), Op.PULL_CREATE),
        (Item(None, None, None, "r", may_import=False), Op.IGNORE),
        (Item(None, None, "a", "a"), Op.RECORD),
        (Item("a", "a", None, None), Op.FORGET),
        (Item("a", "a", None, "a"), Op.PUSH_DELETE),
        (Item("a", "a", None, "b"), Op.PUSH_DELETE),
        (Item("a", "a", "a", None), Op.PULL_DELETE),
        (Item("a", "a", "b", None), Op.PUSH_CREATE),
        (Item("a", "a", "a", "a"), Op.NOTHING),
        (Item("a", "a", "b", "a"), Op.PUSH_UPDATE),
        (Item("a", "a", "a", "b"), Op.PULL_UPDATE),
        (Item("a", "a", "b", "b"), Op.RECORD),
        (Item("a", "a", "b", "a", held=True), Op.NOTHING),
        (Item(None, None, "a", None, held=True), Op.NOTHING),
    ],
)
def test_each_case_of_the_table(item, op):
    assert plan_item(item).op == op


def test_merge_takes_each_field_from_the_one_side_that_changed_it():
    """Trial fault 4: the phone moved the entry, the coordinator wrote a note."""
    merge = merge_fields(local_changed={"body"}, remote_changed={"start", "end"}, differing={"start", "end", "body"})
    assert merge == Merge(frozenset({"start", "end"}), frozenset({"body"}), frozenset())


@pytest.mark.parametrize("winner", [Winner.HELPDESK, Winner.EXTERNAL])
def test_merge_leaves_only_a_field_both_changed_to_the_rule(winner):
    merge = merge_fields(
        local_changed={"subject", "location"},
        remote_changed={"subject", "body"},
        differing={"subject", "location", "body"},
        winner=winner,
    )
    assert merge.contested == {"subject"}
    assert merge.from_remote == ({"body"} if winner == Winner.HELPDESK else {"body", "subject"})
    assert merge.from_helpdesk == ({"location", "subject"} if winner == Winner.HELPDESK else {"location"})


def test_merge_takes_a_time_whole_from_one_side():
    """The phone moved the start, the helpdesk the end: never one side's start with the other's end."""
    merge = merge_fields(local_changed={"end"}, remote_changed={"start"}, differing={"start", "end"})
    assert merge.contested == {"start", "end"}
    assert merge.from_helpdesk == {"start", "end"} and not merge.from_remote


def test_merge_of_the_same_change_on_both_sides_is_no_conflict():
    merge = merge_fields(local_changed={"subject"}, remote_changed={"subject"}, differing=set())
    assert merge == Merge(frozenset(), frozenset(), frozenset())


# A series' exceptions as items (normalise.exception_items): by original start, an EXDATE
# (RFC 5545 3.8.5.1) or an occurrence changed on its own (3.8.4.4).
CANCELLED, MOVED, MOVED_ELSEWHERE = ("exdates",), ("overrides", "11:00"), ("overrides", "12:00")


@pytest.mark.parametrize("winner", [Winner.HELPDESK, Winner.EXTERNAL])
def test_exceptions_merge_item_by_item(winner):
    """Trial fault 4 (SPEC S3.8): the phone cancels 5 Apr; the helpdesk cancels 7 Apr and moves
    8 Apr; both moved 6 Apr, to other times. Only 6 Apr is contested; every other item keeps the
    change of the one side that made it."""
    synced = {"6 Apr": MOVED}
    merged = merge_items(
        synced_local=synced,
        local={"6 Apr": MOVED_ELSEWHERE, "7 Apr": CANCELLED, "8 Apr": MOVED},
        synced_remote=synced,
        remote={"5 Apr": CANCELLED, "6 Apr": CANCELLED},
        winner=winner,
    )
    assert merged.contested == {"6 Apr"}
    assert merged.from_remote == {"5 Apr"} | ({"6 Apr"} if winner == Winner.EXTERNAL else set())
    assert merged.from_helpdesk == {"7 Apr", "8 Apr"} | ({"6 Apr"} if winner == Winner.HELPDESK else set())
    merge = merge_fields(
        local_changed={"subject", "exdates", "overrides"},
        remote_changed={"exdates", "overrides"},
        differing={"subject", "exdates", "overrides"},
        winner=winner,
        exceptions=merged,
    )
    assert merge.contested == {"exdates", "overrides"}  # 6 Apr: cancelled on one side, moved on the other
    assert "subject" in merge.from_helpdesk and "exdates" in merge.from_remote


def test_a_changed_rule_takes_the_exceptions_with_it():
    """A new rule (or start) on one side: its exceptions name its own instances, so they go with it."""
    merged = merge_items(synced_local={}, local={"7 Apr": CANCELLED}, synced_remote={}, remote={"5 Apr": CANCELLED})
    merge = merge_fields(
        local_changed={"rrules", "exdates"},
        remote_changed={"exdates"},
        differing={"rrules", "exdates"},
        exceptions=merged,
    )
    assert merge.exceptions is None and merge.contested == {"rrules", "exdates"}


def test_deleted_remotely_while_changed_in_the_helpdesk_is_a_conflict_the_rule_decides():
    """Trial fault 3: the technician's deletion meets the coordinator's move."""
    item = Item("a", "a", "moved", None)
    assert plan_item(item, Winner.HELPDESK) == Decision(Op.PUSH_CREATE, conflict=True)
    assert plan_item(item, Winner.EXTERNAL) == Decision(Op.PULL_DELETE, conflict=True)
    assert plan_item(Item("a", "a", "moved", None, held=True)) == Decision(Op.NOTHING)


def test_deleted_in_the_helpdesk_while_changed_remotely_is_a_conflict_the_rule_decides():
    """The mirror of trial fault 3: the coordinator removes the entry while the technician moves it
    (SPEC S3.8: both changed it, the configured rule decides)."""
    item = Item("a", "a", None, "moved")
    assert plan_item(item, Winner.HELPDESK) == Decision(Op.PUSH_DELETE, conflict=True)
    assert plan_item(item, Winner.EXTERNAL) == Decision(Op.PULL_CREATE, conflict=True)
    assert plan_item(Item("a", "a", None, "a")) == Decision(Op.PUSH_DELETE)  # unchanged there: no conflict


@pytest.mark.parametrize("winner", [Winner.HELPDESK, Winner.EXTERNAL])
def test_first_sight_leaves_each_differing_field_to_the_rule(winner):
    """No last synced state: each field that differs now is decided by the rule, grouped as a merge
    groups them (a time whole from one side), and said to be a first sight."""
    merge = first_sight(differing={"start", "body"}, winner=winner)
    assert merge.first_sight and merge.contested == {"start", "body"}
    won, lost = (
        (merge.from_helpdesk, merge.from_remote)
        if winner == Winner.HELPDESK
        else (merge.from_remote, merge.from_helpdesk)
    )
    assert (won, lost) == ({"start", "body"}, set())
    assert first_sight(differing=set(), winner=winner) == Merge(frozenset(), frozenset(), frozenset(), first_sight=True)


def test_both_changed_follows_the_conflict_rule():
    item = Item("a", "a", "local", "remote")
    assert plan_item(item, Winner.HELPDESK).op == Op.PUSH_UPDATE
    assert plan_item(item, Winner.EXTERNAL).op == Op.PULL_UPDATE
    assert plan_item(item).conflict


def test_only_an_empty_full_listing_has_its_missing_entries_confirmed_one_by_one():
    assert missing_need_confirming(full_listing=True, listed=0, known=3)
    assert not missing_need_confirming(full_listing=True, listed=1, known=3)
    assert not missing_need_confirming(full_listing=True, listed=0, known=0)
    assert not missing_need_confirming(full_listing=False, listed=0, known=3)


# --- a model of two calendars and the status, synced with the planner's decisions ------------------

KEYS = st.sampled_from(["k1", "k2", "k3", "k4"])
EDIT = st.tuples(st.sampled_from(["local", "remote"]), st.sampled_from(["put", "delete"]), KEYS, st.integers(0, 9))


def _sync(local: dict, remote: dict, status: dict, winner: Winner) -> None:
    for key in sorted(set(local) | set(remote) | set(status)):
        synced = status.get(key)
        item = Item(synced and synced[0], synced and synced[1], local.get(key), remote.get(key))
        op = plan_item(item, winner).op
        if op in (Op.PUSH_CREATE, Op.PUSH_UPDATE):
            remote[key] = local[key]
        elif op in (Op.PULL_CREATE, Op.PULL_UPDATE):
            local[key] = remote[key]
        elif op == Op.PUSH_DELETE:
            del remote[key]
        elif op == Op.PULL_DELETE:
            del local[key]
        if key in local and key in remote:
            status[key] = (local[key], remote[key])
        else:
            status.pop(key, None)


@settings(max_examples=300, deadline=None)
@given(rounds=st.lists(st.lists(EDIT, max_size=6), min_size=1, max_size=5), winner=st.sampled_from(list(Winner)))
def test_any_edits_on_both_sides_converge_after_a_sync(rounds, winner):
    local: dict[str, str] = {}
    remote: dict[str, str] = {}
    status: dict[str, tuple[str, str]] = {}
    for edits in rounds:
        for side, action, key, value in edits:
            calendar = local if side == "local" else remote
            if action == "put":
                calendar[key] = f"{side}-{value}"
            else:
                calendar.pop(key, None)
        _sync(local, remote, status, winner)
        assert local == remote
        assert set(status) == set(local)


@settings(max_examples=200, deadline=None)
@given(key=KEYS, value=st.integers(0, 9), winner=st.sampled_from(list(Winner)))
def test_a_deletion_meeting_a_modification_is_decided_by_the_rule(key, value, winner):
    """One side deletes what the other changed: both changed it, so the conflict rule decides
    (SPEC S3.8): the winning side's deletion reaches the other, or its change comes back there.
    The technician's deletion under "helpdesk wins" (trial fault 3) and its mirror, the
    helpdesk's deletion under "external calendar wins", are the modifications that win."""
    for edited, deleted in (("local", "remote"), ("remote", "local")):
        local, remote, status = {key: "v"}, {key: "v"}, {key: ("v", "v")}
        sides = {"local": local, "remote": remote}
        sides[edited][key] = f"edited-{value}"
        del sides[deleted][key]
        _sync(local, remote, status, winner)
        deletion_wins = (deleted == "remote") == (winner == Winner.EXTERNAL)
        assert local == remote == ({} if deletion_wins else {key: f"edited-{value}"})


@pytest.mark.parametrize("winner", list(Winner))
def test_a_shared_entry_changed_remotely_is_that_technicians_answer_whoever_wins(winner):
    """A shared appointment (several technicians, an entry each): a change read from one calendar
    is that technician's answer, never a pull for all (trial F13); both sides changed too."""
    assert plan_item(Item("a", "r", "a", "s", shared=True), winner) == Decision(Op.ANSWER)
    assert plan_item(Item("a", "r", "b", "s", shared=True), winner) == Decision(Op.ANSWER, conflict=True)
    # Equal contents, a deletion remotely and a helpdesk-only change keep their own rows of the table.
    assert plan_item(Item("a", "r", "b", "b", shared=True), winner).op == Op.RECORD
    assert plan_item(Item("a", "r", "a", None, shared=True), winner).op == Op.PULL_DELETE
    assert plan_item(Item("a", "r", "b", "r", shared=True), winner).op == Op.PUSH_UPDATE

"""What to do with one item, from its last synced state and both sides now. Pure: no ORM, no I/O.

vdirsyncer's idea: the sync status holds a hash of each side as it was at the last sync. A side
whose hash differs has changed since; a side without the item has deleted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Op(StrEnum):
    NOTHING = "nothing"
    RECORD = "record"  # both sides hold the same content: store it as synced
    FORGET = "forget"  # gone on both sides: drop the status
    IGNORE = "ignore"  # an external entry we may not import
    PUSH_CREATE = "push_create"
    PUSH_UPDATE = "push_update"
    PUSH_DELETE = "push_delete"
    PULL_CREATE = "pull_create"
    PULL_UPDATE = "pull_update"
    PULL_DELETE = "pull_delete"
    # A shared entry changed on one technician's calendar: read that technician's answer as an
    # attendee (an occurrence they left), write the helpdesk's version back to that calendar.
    ANSWER = "answer"


class Winner(StrEnum):
    HELPDESK = "helpdesk"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Item:
    """One entry as the planner sees it; hashes are of the same normalised content on both sides.

    `synced_local` / `synced_remote`: hashes at the last sync (None: never synced).
    `local` / `remote`: hashes now (None: not there).
    `held`: the helpdesk change waits for the technician's approval (or was declined); only ever
    set while nothing of the item is on the external calendar (policy Ask keeps a copy in step).
    `may_import`: an external entry we have never seen may become an appointment.
    `shared`: an appointment of several technicians, each with an entry of their own: a change on
    this calendar is this technician's answer as an attendee, never a change for all (Exchange,
    Google: an attendee's edits stay on their copy). Only asked when the remote side changed.
    """

    synced_local: str | None
    synced_remote: str | None
    local: str | None
    remote: str | None
    held: bool = False
    may_import: bool = True
    shared: bool = False

    @property
    def ever_synced(self) -> bool:
        return self.synced_local is not None or self.synced_remote is not None


@dataclass(frozen=True)
class Decision:
    """`fields`: a merge's conflict names only the fields both sides changed to different values
    (`merge_fields`); None: the whole entry was decided as one. `items`: a series' exceptions
    merged item by item: the original starts both sides changed (`ItemMerge.contested`)."""

    op: Op
    conflict: bool = False
    fields: frozenset[str] | None = None
    items: frozenset[str] | None = None


def _conflict(item: Item, winner: Winner) -> Decision:
    if item.local == item.remote:
        return Decision(Op.RECORD)
    if item.shared and not item.held:
        return Decision(Op.ANSWER, conflict=True)  # whichever side wins, one calendar speaks for one technician
    if winner == Winner.HELPDESK:
        return Decision(Op.NOTHING if item.held else Op.PUSH_UPDATE, conflict=not item.held)
    return Decision(Op.PULL_UPDATE, conflict=True)


def plan_item(item: Item, winner: Winner = Winner.HELPDESK) -> Decision:
    """The table, in the order the code checks it:

    Never synced:
      1. on neither side                      -> forget
      2. only in the helpdesk                 -> push create (held: wait)
      3. only remote                          -> import (or ignore when import is off)
      4. on both (a create whose status was lost) -> record if equal, else the conflict rule
    Synced before:
      5. gone on both sides                   -> forget
      6. deleted in the helpdesk, remote unchanged -> delete remote
      7. deleted in the helpdesk, remote changed   -> a conflict: the rule decides (helpdesk: delete
                                                 remote; external calendar: re-create in the helpdesk)
      8. deleted remotely, helpdesk unchanged -> delete in the helpdesk
      9. deleted remotely, helpdesk changed   -> a conflict: the rule decides (helpdesk: re-create
                                                 remote; external calendar: delete in the helpdesk;
                                                 held: wait)
     10. neither changed                      -> nothing
     11. only the helpdesk changed            -> push update (held: wait)
     12. only the remote changed              -> pull update (shared: the technician's answer)
     13. both changed                         -> record if equal, else the conflict rule (shared:
                                                 the technician's answer, whichever side wins)
    """
    if not item.ever_synced:
        if item.local is None and item.remote is None:
            return Decision(Op.FORGET)
        if item.remote is None:
            return Decision(Op.NOTHING if item.held else Op.PUSH_CREATE)
        if item.local is None:
            return Decision(Op.PULL_CREATE if item.may_import else Op.IGNORE)
        return _conflict(item, winner)

    local_changed = item.local != item.synced_local
    remote_changed = item.remote != item.synced_remote
    if item.local is None and item.remote is None:
        return Decision(Op.FORGET)
    if item.local is None:
        if not remote_changed:
            return Decision(Op.PUSH_DELETE)
        # The helpdesk's deletion and the technician's change meet (rule 9's mirror): never
        # silently, whoever wins (SPEC S3.8: the configured rule decides).
        return Decision(Op.PUSH_DELETE if winner == Winner.HELPDESK else Op.PULL_CREATE, conflict=True)
    if item.remote is None:
        if not local_changed:
            return Decision(Op.PULL_DELETE)
        if item.held:
            return Decision(Op.NOTHING)
        # The technician's deletion and the helpdesk's change meet: never silently, whoever wins.
        return Decision(Op.PUSH_CREATE if winner == Winner.HELPDESK else Op.PULL_DELETE, conflict=True)
    if not local_changed and not remote_changed:
        return Decision(Op.NOTHING)
    if local_changed and not remote_changed:
        return Decision(Op.NOTHING if item.held else Op.PUSH_UPDATE)
    if remote_changed and not local_changed:
        return Decision(Op.ANSWER if item.shared else Op.PULL_UPDATE)
    return _conflict(item, winner)


def missing_need_confirming(*, full_listing: bool, listed: int, known: int) -> bool:
    """Must entries missing from this listing be confirmed one by one before they count as deleted?

    A full listing that suddenly returns nothing for a calendar that had entries may be a server
    glitch or a wrong calendar, which must not wipe a technician's appointments; a real deletion
    must still land within this pull. So the engine asks for each missing entry directly, right
    away, and only those the server says are gone count as deleted.
    """
    return full_listing and listed == 0 and known > 0


# Fields that only make sense together: a side that changed one of a group is taken for the whole
# group, so a merge never pairs one side's start with the other's end, or a series' rule with
# occurrences the other side moved. Names as `mapping.FIELDS`.
_RULE = ("start", "end", "all_day", "rrules")
# A series' exceptions: while neither side changed the rule (`_RULE`), each left-out date (RFC 5545
# 3.8.5.1 EXDATE) and each occurrence changed on its own (3.8.4.4 RECURRENCE-ID) is an item of its
# own, merged one by one (`merge_items`); a changed rule takes them with it (they name its instances).
_EXCEPTIONS = ("exdates", "overrides")
_GROUPS = (
    (*_RULE, *_EXCEPTIONS),
    ("subject",),
    ("body",),
    ("location",),
    ("private",),
    ("busy",),
)


@dataclass(frozen=True)
class ItemMerge:
    """A three-way merge of a series' exceptions, item by item (`merge_items`), by original start
    (`mapping.exception_items`' keys): `from_remote` the items the helpdesk takes from the external
    calendar, `from_helpdesk` those the external calendar takes from the helpdesk, `contested` those
    both sides changed to different values (also in the winner's set). `fields`: for each key
    decided, the field names (`"exdates"`, `"overrides"`) its two values touch."""

    from_remote: frozenset[str] = frozenset()
    from_helpdesk: frozenset[str] = frozenset()
    contested: frozenset[str] = frozenset()
    fields: tuple[tuple[str, frozenset[str]], ...] = ()

    def fields_of(self, keys) -> set[str]:
        """The field names the items `keys` touch."""
        touched = dict(self.fields)
        return set().union(*(touched.get(key, frozenset()) for key in keys))


def merge_items(
    *,
    synced_local: dict,
    local: dict,
    synced_remote: dict,
    remote: dict,
    also_unchanged: dict | None = None,
    winner: Winner = Winner.HELPDESK,
) -> ItemMerge:
    """Merge a series' exceptions item by item against the last synced state (SPEC S3.8): an item
    one side changed and the other did not takes the changing side's value (a date cancelled on the
    phone and not touched in the helpdesk stays cancelled on both); the same value on both sides
    needs nothing; only an item both sides changed to different values is contested, and `winner`
    takes it. Each dict maps an original start (a string key) to a value compared by equality, whose
    first element is the field it belongs to (`"exdates"` or `"overrides"`); no key: the occurrence
    as the rule gives it. `also_unchanged`: the remote items as a push whose answer was lost wrote
    them: a remote item equal to it is our own write, not the technician's change. Pure."""
    from_remote: set[str] = set()
    from_helpdesk: set[str] = set()
    contested: set[str] = set()
    fields = []
    for key in sorted(set(synced_local) | set(local) | set(synced_remote) | set(remote)):
        mine, theirs = local.get(key), remote.get(key)
        if mine == theirs:
            continue
        local_changed = mine != synced_local.get(key)
        remote_changed = theirs != synced_remote.get(key)
        if remote_changed and also_unchanged is not None and theirs == also_unchanged.get(key):
            remote_changed = False
        if local_changed and remote_changed:
            contested.add(key)
            (from_helpdesk if winner == Winner.HELPDESK else from_remote).add(key)
        elif remote_changed:
            from_remote.add(key)
        else:  # the helpdesk changed it, or neither did and they differ anyway: the helpdesk's stays
            from_helpdesk.add(key)
        fields.append((key, frozenset(value[0] for value in (mine, theirs) if value is not None)))
    return ItemMerge(frozenset(from_remote), frozenset(from_helpdesk), frozenset(contested), tuple(fields))


@dataclass(frozen=True)
class Merge:
    """What a three-way merge of one entry keeps, by field name (`mapping.FIELDS`).

    `from_remote`: fields the helpdesk takes from the external calendar; `from_helpdesk`: fields
    the external calendar takes from the helpdesk; `contested`: fields both sides changed to
    different values since the last sync, decided by the conflict rule (and listed in one of the
    two sets as the winner's)."""

    from_remote: frozenset[str]
    from_helpdesk: frozenset[str]
    contested: frozenset[str]
    # No last synced state to read the changes against (`first_sight`): every field that differs
    # was decided by the conflict rule.
    first_sight: bool = False
    # A series' exceptions merged item by item (`merge_items`); None: as one group with the rule.
    exceptions: ItemMerge | None = None


def merge_fields(
    *,
    local_changed: set[str],
    remote_changed: set[str],
    differing: set[str],
    winner: Winner = Winner.HELPDESK,
    exceptions: ItemMerge | None = None,
    rekey_lands: dict[str, bool] | None = None,
) -> Merge:
    """Merge both sides of an entry that both changed since the last sync, field by field against
    the last synced state (a three-way merge, as vdirsyncer and git do it per item / per line):

      - a group of fields (`_GROUPS`) changed on one side only takes that side's values;
      - a group changed on both sides to the same values needs nothing;
      - the series group changed on one side in the series itself (start, end, rule) and on the
        other only in its exceptions (cancelled or edited occurrences) keeps both: those are
        different things (the engine re-keys the exceptions onto the series as moved), as long
        as each re-keyed exception names an instance of the series as changed (`rekey_lands`);
        where one would name none (the rule itself changed: "first Monday" to "first Tuesday",
        review 7 F2), the group is decided as one, a conflict, never a silent loss;
      - a group changed on both sides to different values is contested: `winner` takes it, and
        only its fields that differ now are named as contested.

    `local_changed` / `remote_changed`: fields each side changed since the last sync;
    `differing`: fields whose values differ between the two sides now. `exceptions`: the series'
    exceptions merged item by item (`merge_items`): used when neither side changed the rule
    (`_RULE`), so a left-out date one side added is kept whatever the other did to other
    occurrences; the fields of its items are then named as those items went. `rekey_lands`: for
    the side that changed the series ("helpdesk" or "remote"), do the other side's exceptions,
    re-keyed onto that side's series, all name instances of its rule (`mapping.rekey_lands`)? A
    side missing (or None): taken as yes. Pure."""
    from_remote: set[str] = set()
    from_helpdesk: set[str] = set()
    contested: set[str] = set()
    by_item = exceptions is not None and not set(_RULE) & (local_changed | remote_changed)
    for group in _GROUPS:
        names = set(group) - (set(_EXCEPTIONS) if by_item else set())
        if by_item and group[0] == _RULE[0]:
            from_remote |= exceptions.fields_of(exceptions.from_remote)
            from_helpdesk |= exceptions.fields_of(exceptions.from_helpdesk)
            contested |= exceptions.fields_of(exceptions.contested)
        differ = names & differing
        if not differ:
            continue
        local, remote = bool(names & local_changed), bool(names & remote_changed)
        apart = _series_apart(names, local_changed, remote_changed)
        if apart is not None and rekey_lands is not None and not rekey_lands.get(apart[0], True):
            apart = None  # the other side's exceptions name no instance of the changed series
        if apart is not None:
            # One side moved or re-ruled the series, the other cancelled or edited occurrences of
            # it: different things (review 6), both kept; the engine re-keys the exceptions onto
            # the series as moved (RFC 5545 3.8.5.1, 3.8.4.4: they name instances of the rule).
            sides = {"helpdesk": from_helpdesk, "remote": from_remote}
            sides[apart[0]].update(differ & set(_RULE))
            sides[apart[1]].update(differ & set(_EXCEPTIONS))
            continue
        if local and remote:
            contested |= differ
            (from_helpdesk if winner == Winner.HELPDESK else from_remote).update(differ)
        elif remote:
            from_remote |= differ
        elif local:
            from_helpdesk |= differ
    return Merge(
        frozenset(from_remote),
        frozenset(from_helpdesk),
        frozenset(contested),
        exceptions=exceptions if by_item else None,
    )


def _series_apart(names: set[str], local_changed: set[str], remote_changed: set[str]) -> tuple[str, str] | None:
    """For the series group: when one side changed only the series (start, end, rule) and the other
    only its exceptions (EXDATEs, occurrences edited on their own), which side gave which, as
    ("helpdesk", "remote") (the helpdesk changed the series) or ("remote", "helpdesk"); else None
    (the group is decided as one). A change between all-day and timed is never apart: exceptions
    cannot be re-keyed onto the other form."""
    if "all_day" not in names:
        return None
    local, remote = names & local_changed, names & remote_changed
    if not local or not remote or "all_day" in local | remote:
        return None
    series, exceptions = set(_RULE), set(_EXCEPTIONS)
    if local <= series and remote <= exceptions:
        return "helpdesk", "remote"
    if remote <= series and local <= exceptions:
        return "remote", "helpdesk"
    return None


def first_sight(*, differing: set[str], winner: Winner = Winner.HELPDESK) -> Merge:
    """The merge of an entry both sides hold when there is no last synced state to read their
    changes against (a link made before that state was kept, one whose sealed state could not be
    opened, a create whose state was lost): as on a first sync, the two sides are compared field
    by field, and each field that differs is taken for changed on both sides, so `winner` keeps
    it; fields that agree need nothing. `differing`: fields whose values differ between the two
    sides now (`mapping.FIELDS` names). Pure: names in, names out."""
    merge = merge_fields(local_changed=differing, remote_changed=differing, differing=differing, winner=winner)
    return Merge(merge.from_remote, merge.from_helpdesk, merge.contested, first_sight=True)

"""`judge_refusal` (providers/base.py): what a refusal of one entry means once the calendar's own
rights are known. The three cases of review finding 5, whatever the connector."""

import pytest

from integrations.providers.base import CalendarRights, ConnectionProblem, EntryRefused, RightsLost, judge_refusal

MAILBOX = "alice@example.com"
FIX = "give the account Editor rights"


def rights(*, read: bool, write: bool) -> CalendarRights:
    return CalendarRights(read=read, write=write, source="as asked", fix=FIX)


@pytest.mark.parametrize("write", [True, False])
def test_with_every_right_the_refusal_is_the_entrys_alone(write):
    refused = EntryRefused("refused", write=write)

    assert judge_refusal(refused, rights(read=True, write=True), MAILBOX) is refused


def test_a_refused_write_on_a_calendar_it_may_only_read_is_the_calendars_read_only_now():
    judged = judge_refusal(EntryRefused("refused", write=True), rights(read=True, write=False), MAILBOX)

    assert isinstance(judged, RightsLost) and isinstance(judged, ConnectionProblem)
    assert "may only read" in str(judged) and MAILBOX in str(judged) and FIX in str(judged)


def test_a_refused_read_on_a_calendar_it_may_only_read_is_the_entrys():
    refused = EntryRefused("refused", write=False)

    assert judge_refusal(refused, rights(read=True, write=False), MAILBOX) is refused


@pytest.mark.parametrize("write", [True, False])
def test_a_calendar_it_may_no_longer_read_is_no_access(write):
    judged = judge_refusal(EntryRefused("refused", write=write), rights(read=False, write=False), MAILBOX)

    assert isinstance(judged, RightsLost) and "may no longer open" in str(judged) and FIX in str(judged)


def test_a_refusal_the_answer_names_as_the_entrys_or_unknown_rights_stay_the_entrys():
    alone = EntryRefused("only the organiser may change it", write=True, entry_alone=True)
    unsure = EntryRefused("refused", write=True)

    assert judge_refusal(alone, rights(read=False, write=False), MAILBOX) is alone
    assert judge_refusal(unsure, None, MAILBOX) is unsure

"""A single entry in the repeated hour of the autumn change on Microsoft 365 (task autumn, fault 2).

Graph's dateTimeTimeZone is a wall-clock time with a zone name ("dateTimeTimeZone resource type"),
so 2027-10-31T02:30:00 "W. Europe Standard Time" names either 02:30+02:00 or 02:30+01:00: the second
02:30 can only be said without doubt in UTC. Expected instants: zoneinfo's PEP 495 fold
(tests/repeated_hour.py), the stored event read by the local Graph peer.
"""

import pytest

from tests.repeated_hour import CASES, kept_after_an_edit_elsewhere, night_job

from .conftest import ALICE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("case", CASES)
def test_a_time_in_the_repeated_hour_reaches_graph_as_its_own_instant(
    case, alice_graph, graph, django_capture_on_commit_callbacks
):
    _start, _end, start_utc, end_utc = CASES[case]
    night_job(case, alice_graph.agent, django_capture_on_commit_callbacks)

    [event] = graph.events(ALICE)
    # What Outlook shows: the stored start and end as the peer reads them (zoneinfo, fold=0 for a
    # wall-clock time that occurs twice, as RFC 5545 3.3.5 reads one).
    assert (event["_start"], event["_end"]) == (start_utc, end_utc)


@pytest.mark.parametrize("case", CASES)
def test_a_repeated_hour_entry_read_back_from_graph_keeps_its_instants(
    case, alice_graph, graph, django_capture_on_commit_callbacks
):
    _start, _end, start_utc, end_utc = CASES[case]
    appointment = night_job(case, alice_graph.agent, django_capture_on_commit_callbacks)

    def outlook_edit():
        [event] = graph.events(ALICE)
        graph.outlook_edit(ALICE, event["id"], location={"displayName": "Server room"})

    kept_after_an_edit_elsewhere(case, appointment, alice_graph, outlook_edit)
    [event] = graph.events(ALICE)
    assert (event["_start"], event["_end"]) == (start_utc, end_utc)


@pytest.mark.parametrize("case", CASES)
def test_a_later_change_of_the_subject_does_not_send_the_repeated_hour_times_again(case):
    from integrations.providers.base import RemoteEvent
    from integrations.providers.graph.mapping import changed_values

    start, end, start_utc, end_utc = CASES[case]
    # As Graph gives it back: in UTC, originalStartTimeZone "UTC" (what the helpdesk sent).
    base = RemoteEvent(start=start_utc, end=end_utc, subject="Night job", time_zone="UTC")
    event = RemoteEvent(start=start, end=end, subject="Night job, 2nd try", time_zone="Europe/Amsterdam")

    assert changed_values(event, base, own=True) == {"subject": "Night job, 2nd try"}

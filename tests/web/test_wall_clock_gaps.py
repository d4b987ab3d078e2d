"""Wall-clock times a DST change skips or repeats, typed in a form or sent to the API.

RFC 5545 3.3.5 (DATE-TIME with a TZID): a time in the gap is "interpreted using the UTC offset
before the gap", and a time that occurs twice is the first occurrence. Amsterdam (EU rule, the
change at 01:00 UTC on the last Sunday):
- Sun 28 March 2027 the clocks skip from 02:00 CET (UTC+1) to 03:00 CEST (UTC+2), so 02:30 is
  read at UTC+1: 01:30 UTC, which Amsterdam shows as 03:30 CEST.
- Sun 31 October 2027 they go back from 03:00 CEST to 02:00 CET, so 02:30 happens twice; the
  first is 02:30 CEST (UTC+2): 00:30 UTC.
Each expected value is also checked against zoneinfo, so the hand-worked figures are not ours.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from calendars.forms import AppointmentForm
from calendars.models import Appointment
from tickets.forms import ActionForm, RequestForm

AMS = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")

GAP_0230_IN_UTC = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 read at UTC+1
FOLD_0230_IN_UTC = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # the first 02:30, at UTC+2


def test_the_hand_worked_values_agree_with_zoneinfo():
    assert GAP_0230_IN_UTC.astimezone(AMS).strftime("%H:%M %Z") == "03:30 CEST"
    assert datetime(2027, 3, 28, 2, 30, tzinfo=AMS).utcoffset() == timedelta(hours=1)  # fold=0: before the gap
    assert FOLD_0230_IN_UTC.astimezone(AMS).strftime("%H:%M %Z") == "02:30 CEST"
    assert (FOLD_0230_IN_UTC + timedelta(hours=1)).astimezone(AMS).strftime("%H:%M %Z") == "02:30 CET"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def test_a_click_at_0130_on_the_spring_night_opens_the_form_with_a_real_end(page_client, alice):
    """The calendar asks for 01:30 to 02:30 (an hour later on the wall clock); 02:30 does not
    exist in Amsterdam that night, so the form opens at 01:30 to 03:30 CEST: one real hour."""
    client = page_client(alice.user)
    for query in (
        {"start": "2027-03-28T01:30:00", "end": "2027-03-28T02:30:00"},
        {"start": "2027-03-28T01:30:00"},  # no end: an hour after the start
    ):
        page = client.get(reverse("calendars:appointment-create"), {**query, "agent": alice.pk}).content.decode()
        assert 'value="2027-03-28T01:30"' in page and 'value="2027-03-28T03:30"' in page, query


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (("2027-03-28T01:30", "2027-03-28T02:30"), (GAP_0230_IN_UTC - timedelta(hours=1), GAP_0230_IN_UTC)),
        (("2027-10-31T02:30", "2027-10-31T03:30"), (FOLD_0230_IN_UTC, FOLD_0230_IN_UTC + timedelta(hours=2))),
    ],
    ids=["skipped-end", "repeated-start"],
)
def test_the_appointment_form_reads_skipped_and_repeated_times_as_rfc_5545_does(page_client, alice, typed, stored):
    """Django's own field refuses both ("couldn't be interpreted in time zone ... may be
    ambiguous or it may not exist"). 03:30 on 31 October is CET (UTC+1): 02:30 UTC."""
    response = page_client(alice.user).post(
        reverse("calendars:appointment-create"),
        # At night on a Sunday, outside Alice's working hours: confirmed (the times are what is tested).
        {
            "subject": "Night change",
            "start": typed[0],
            "end": typed[1],
            "agents": [alice.pk],
            "entries": "each",
            "confirm_overlap": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appointment = Appointment.objects.get(subject="Night change")
    assert (appointment.start, appointment.end) == stored


@pytest.mark.parametrize(
    ("form_class", "field"),
    [(AppointmentForm, "start"), (RequestForm, "planned_start"), (ActionForm, "done_at")],
)
@pytest.mark.parametrize(
    ("typed", "instant"), [("2027-03-28T02:30", GAP_0230_IN_UTC), ("2027-10-31T02:30", FOLD_0230_IN_UTC)]
)
def test_every_page_form_reads_a_skipped_or_repeated_time_as_rfc_5545_does(db, form_class, field, typed, instant):
    with timezone.override(AMS):
        # In UTC: PEP 495 makes a repeated time never equal to one in another zone.
        assert form_class.base_fields[field].clean(typed).astimezone(UTC) == instant


def test_a_page_form_still_refuses_a_time_that_is_no_time(db):
    with timezone.override(AMS), pytest.raises(forms.ValidationError):
        AppointmentForm.base_fields["start"].clean("2027-03-28T25:30")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (("2027-03-28T01:30:00", "2027-03-28T02:30:00"), (GAP_0230_IN_UTC - timedelta(hours=1), GAP_0230_IN_UTC)),
        (("2027-10-31T02:30:00", "2027-10-31T03:30:00"), (FOLD_0230_IN_UTC, FOLD_0230_IN_UTC + timedelta(hours=2))),
    ],
    ids=["skipped-end", "repeated-start"],
)
def test_the_api_reads_skipped_and_repeated_naive_times_as_rfc_5545_does(alice, sent, stored):
    """DRF alone refuses the repeated time ("Invalid datetime for the timezone")."""
    response = token_client(alice.user).post(
        "/api/appointments/",
        {"subject": "Night change", "start": sent[0], "end": sent[1], "agents": [alice.pk], "confirm_overlap": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert (appointment.start, appointment.end) == stored
    # The answer names times that exist: 03:30+02:00, never 02:30+01:00.
    assert datetime.fromisoformat(response.json()["end"]) == stored[1]
    assert response.json()["end"] == stored[1].astimezone(AMS).isoformat()


def test_naive_api_times_are_on_the_signed_in_users_clock_not_the_technicians(coordinator, make_agent, settings):
    """A coordinator has no technician profile, so a naive time is on TIME_ZONE (Amsterdam,
    CET = UTC+1 on 3 December): 10:00 is 09:00 UTC, 04:00 for Frank in New York (EST = UTC-5).
    Frank's own token sends the same text on his clock: 10:00 EST = 15:00 UTC."""
    settings.TIME_ZONE = "Europe/Amsterdam"
    frank = make_agent("frank", time_zone="America/New_York")
    body = {"subject": "Visit", "start": "2026-12-03T10:00:00", "end": "2026-12-03T11:00:00", "agents": [frank.pk]}
    body["confirm_overlap"] = True  # 04:00 on Frank's clock is outside his working hours

    by_coordinator = token_client(coordinator).post("/api/appointments/", body, format="json")
    by_frank = token_client(frank.user).post("/api/appointments/", body, format="json")

    assert by_coordinator.status_code == by_frank.status_code == 201
    assert Appointment.objects.get(pk=by_coordinator.json()["id"]).start == datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert Appointment.objects.get(pk=by_frank.json()["id"]).start == datetime(2026, 12, 3, 15, tzinfo=UTC)
    assert datetime(2026, 12, 3, 9, tzinfo=UTC) == datetime(2026, 12, 3, 10, tzinfo=AMS)
    assert datetime(2026, 12, 3, 15, tzinfo=UTC) == datetime(2026, 12, 3, 10, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("sent", "instant"), [("2027-03-28T02:30:00", GAP_0230_IN_UTC), ("2027-10-31T02:30:00", FOLD_0230_IN_UTC)]
)
def test_a_requests_planned_start_in_the_api_is_read_as_rfc_5545_does(alice, sent, instant):
    from tickets import services as ticket_services
    from tickets.models import Request

    ticket = ticket_services.create_request(summary="Night shift", assigned_agents=[alice])
    # At night on a Sunday, outside Alice's working hours: confirmed (the time is what is tested).
    body = {"planned_start": sent, "confirm_overlap": True}
    response = token_client(alice.user).patch(f"/api/requests/{ticket.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    assert Request.objects.get(pk=ticket.pk).planned_start == instant


# --- an entry refused because its time is in the gap says so (trial fault 10) ------------------

GAP_MESSAGE = "02:30 does not exist on 28 Mar 2027 in Europe/Amsterdam (clocks go forward)"


def test_the_gap_is_a_gap_for_dateutil_too():
    from dateutil import tz

    assert not tz.datetime_exists(datetime(2027, 3, 28, 2, 30), tz=AMS)
    assert tz.datetime_exists(datetime(2027, 3, 28, 3, 30), tz=AMS)


def test_the_api_names_a_start_in_the_gap(alice):
    client = APIClient()
    client.force_authenticate(alice.user)
    body = {"subject": "DST gap", "start": "2027-03-28T02:30:00", "end": "2027-03-28T03:30:00", "agents": [alice.pk]}

    answer = client.post("/api/appointments/", body, format="json")

    assert answer.status_code == 400
    assert GAP_MESSAGE in answer.json()["end"][0]
    assert not Appointment.objects.filter(subject="DST gap").exists()


def test_the_form_names_a_start_in_the_gap(alice):
    fields = {"subject": "DST gap", "start": "2027-03-28T02:30", "end": "2027-03-28T03:30", "agents": [alice.pk]}
    with timezone.override(AMS):
        form = AppointmentForm(fields)

        assert not form.is_valid()
    assert GAP_MESSAGE in form.errors["end"][0]


def test_an_end_before_the_start_outside_any_gap_keeps_the_plain_message(alice):
    fields = {"subject": "Backwards", "start": "2027-03-29T10:00", "end": "2027-03-29T09:00", "agents": [alice.pk]}
    with timezone.override(AMS):
        form = AppointmentForm(fields)

        assert not form.is_valid()
    assert form.errors["end"] == [
        "The end must be after the start: the end is Mon 29 Mar 2027 09:00, the start Mon 29 Mar 2027 10:00. "
        "Give a later end or an earlier start."
    ]

"""API answers that say what to send (trial F8).

Expected ranges are RFC 5545 3.3.10's grammar ("recur-rule-part"): INTERVAL "contains a positive
integer"; COUNT the number of occurrences; seconds 0-60, minutes 0-59, hours 0-23; ordmoday 1-31,
ordyrday 1-366, weeknum 1-53, monthnum 1-12, setposday 1-366, each of the signed ones also
negative; ordwk (BYDAY's week number) 1-53. dateutil gives the starts a rule inside those ranges
makes, never our recurrence code.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from calendars.models import Appointment

AMS = ZoneInfo("Europe/Amsterdam")
LIST = "/api/appointments/"
CALENDAR = "/api/appointments/calendar/"
BODY = {"subject": "Round", "start": "2035-03-06T08:00:00+01:00", "end": "2035-03-06T09:00:00+01:00"}


def post_series(client, agent, rule: str):
    return client.post(LIST, {**BODY, "agents": [agent.pk], "recurrence": rule, "confirm_overlap": True}, format="json")


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL"),
        ("FREQ=WEEKLY;INTERVAL=-1", "INTERVAL"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-367", "BYSETPOS"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR"),
        ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE"),
        ("FREQ=DAILY;BYSECOND=61", "BYSECOND"),
        ("FREQ=YEARLY;BYDAY=54MO", "BYDAY"),
    ],
)
def test_a_rule_part_out_of_its_rfc_range_is_refused_on_recurrence_in_words(api_client, alice, rule, part):
    """Trial F8: INTERVAL=0 answered dateutil's "invalid interval parameter: 0" under
    non_field_errors; BYSETPOS=0 was a 500 and BYMONTHDAY=0 made a series RFC 5545 gives no
    meaning. Each is a 400 on `recurrence` naming the part and what it takes; nothing is made."""
    response = post_series(api_client(alice.user), alice, rule)

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["recurrence"]
    message = response.json()["recurrence"][0]
    assert message.startswith("The recurrence rule is not valid: ") and f"{part} is " in message
    assert "RFC 5545 3.3.10" in message
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("rule", "part"), [("FREQ=MONTHLY;BYMONTHDAY=-10", "BYMONTHDAY"), ("FREQ=MINUTELY;BYSECOND=60", "BYSECOND")]
)
def test_a_rule_in_rfc_range_the_store_cannot_keep_is_refused_on_recurrence_in_words(api_client, alice, rule, part):
    """RFC 5545 3.3.10 allows BYMONTHDAY -31..-1 and BYSECOND 60, but django-recurrence's validator
    (recurrence.base.validate) takes BYMONTHDAY from -4 and BYSECOND to 59: such a rule failed at
    the save with "invalid bymonthday parameter: -10" under non_field_errors. It is refused on
    `recurrence`, saying what can be given instead."""
    response = post_series(api_client(alice.user), alice, rule)

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["recurrence"]
    assert f"{part} " in response.json()["recurrence"][0] and "cannot be stored" in response.json()["recurrence"][0]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYMONTHDAY=6,31,-4;COUNT=3",
        "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1,-1;COUNT=3",
        "FREQ=YEARLY;BYDAY=1TU,-5TU;BYMONTH=3,4;COUNT=3",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=3",
    ],
)
def test_rule_parts_at_the_ends_of_their_rfc_ranges_still_make_the_series_dateutil_gives(api_client, alice, rule):
    """Values at the ends of the ranges are kept: the starts are dateutil's (within the year made)."""
    response = post_series(api_client(alice.user), alice, rule)

    assert response.status_code == 201, response.content
    made = Appointment.objects.filter(master_id=response.json()["id"]).order_by("original_start")
    expected = list(rrule.rrulestr(rule, dtstart=datetime(2035, 3, 6, 8, tzinfo=AMS)))
    assert [start.astimezone(AMS) for start in made.values_list("original_start", flat=True)] == expected


def test_an_invalid_choice_of_availability_mode_lists_the_choices(api_client, alice):
    """Trial F8: `?mode=all` answered '"all" is not a valid choice.' The README names the modes
    `together` and `any`."""
    response = api_client(alice.user).get("/api/availability/", {"agent": [alice.pk], "mode": "all"})

    assert response.status_code == 400, response.content
    assert response.json()["mode"] == ["“all” is not a choice: choose one of together, any."]


def test_an_invalid_edit_scope_lists_the_choices(api_client, alice):
    made = post_series(api_client(alice.user), alice, "FREQ=WEEKLY;COUNT=3").json()["id"]
    occurrence = Appointment.objects.filter(master_id=made).order_by("original_start").first()

    response = api_client(alice.user).patch(
        f"{LIST}{occurrence.pk}/", {"subject": "Moved", "scope": "this"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["scope"] == ["“this” is not a choice: choose one of occurrence, following, all."]


@pytest.mark.parametrize("url", [LIST, CALENDAR])
def test_a_reversed_period_is_a_400_naming_it_not_an_empty_answer(api_client, alice, url):
    """Trial F8: `?start=2027-01-01&end=2026-01-01` answered 200 with nothing, as if the
    calendar were empty; a body's reversed times say "The end must be after the start."."""
    client = api_client(alice.user)
    client.post(LIST, {**BODY, "agents": [alice.pk]}, format="json")

    reversed_period = client.get(url, {"start": "2035-03-07", "end": "2035-03-05"})
    empty_period = client.get(url, {"start": "2035-03-06T08:00:00+01:00", "end": "2035-03-06T08:00:00+01:00"})
    right_way = client.get(url, {"start": "2035-03-05", "end": "2035-03-07"})

    assert reversed_period.status_code == 400, reversed_period.content
    assert reversed_period.json() == {
        "end": [
            "The end must be after the start: the end is Mon 5 Mar 2035 00:00, the start Wed 7 Mar 2035 00:00. "
            "Give a later end or an earlier start."
        ]
    }
    assert empty_period.status_code == 400, empty_period.content
    assert right_way.status_code == 200
    items = right_way.json()["results"] if url == LIST else right_way.json()
    assert [item["subject"] for item in items] == ["Round"]


def test_a_model_field_with_choices_lists_them_too(api_client, coordinator):
    """The same kind in a body's model field: a request's `status` (README: new, planned, ...)."""
    response = api_client(coordinator).post(
        "/api/requests/", {"summary": "Printer", "status": "closed-ish"}, format="json"
    )

    assert response.status_code == 400, response.content
    message = response.json()["status"][0]
    assert message.startswith("“closed-ish” is not a choice: choose one of ") and "new" in message


@pytest.mark.parametrize("url", [LIST, CALENDAR])
def test_a_yes_no_parameter_that_is_neither_is_a_400_naming_the_values(api_client, alice, url):
    """`?recurring=ture` was read as no and answered every entry, as if the filter were off."""
    client = api_client(alice.user)
    week = {"start": "2035-03-05", "end": "2035-03-12"}

    typo = client.get(url, {**week, "recurring": "ture"})
    spelled = [client.get(url, {**week, "recurring": value}).status_code for value in ("true", "0", "No", "")]

    assert typo.status_code == 400, typo.content
    assert typo.json() == {
        "recurring": ["“ture” is not yes or no: give true or false (also 1 or 0, yes or no, on or off)."]
    }
    assert spelled == [200, 200, 200, 200]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=2TU", "numbered weekday"),
        ("FREQ=YEARLY;BYWEEKNO=10;BYDAY=1TU", "with BYWEEKNO"),
        ("FREQ=WEEKLY;BYMONTHDAY=6", "BYMONTHDAY is not for FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYYEARDAY=65", "BYYEARDAY is not for FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYWEEKNO=10", "BYWEEKNO is not for FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS picks from"),
    ],
)
def test_a_rule_part_rfc_5545_forbids_with_its_freq_is_refused_on_recurrence(api_client, alice, rule, words):
    """RFC 5545 3.3.10's MUST NOTs: a numbered BYDAY only with MONTHLY or YEARLY and never with
    BYWEEKNO; no BYMONTHDAY with WEEKLY; no BYYEARDAY with DAILY, WEEKLY or MONTHLY; BYWEEKNO only
    with YEARLY; BYSETPOS only with another BYxxx part. dateutil ignores or bends these (2TU on a
    weekly rule made every Tuesday, 201), so the series made was not the one written."""
    response = post_series(api_client(alice.user), alice, rule)

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["recurrence"]
    assert words in response.json()["recurrence"][0] and "RFC 5545 3.3.10" in response.json()["recurrence"][0]
    assert not Appointment.objects.exists()


def test_a_series_own_rule_sent_back_is_kept_though_a_person_could_not_write_it(api_client, alice):
    """An external calendar's rule is kept as given (here made by the service, as an import
    would): a PUT of what was read changes nothing rather than refusing the series' own rule."""
    from calendars import services as calendar_services

    master = calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;BYDAY=1TU;COUNT=3",
        subject="Imported",
        start=datetime(2035, 3, 6, 8, tzinfo=AMS),
        end=datetime(2035, 3, 6, 9, tzinfo=AMS),
        agents=[alice],
    )
    client = api_client(alice.user)
    read = client.get(f"{LIST}{master.pk}/").json()

    put = client.put(f"{LIST}{master.pk}/", read, format="json")

    assert put.status_code == 200, put.content
    assert put.json()["recurrence"] == read["recurrence"]

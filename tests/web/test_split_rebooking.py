"""Booking a request again replaces its earlier booking (parts task).

Work booked in parts keeps its first part on the request's planned appointment and each later part
as an appointment marked with its number (`Appointment.part`). Booking the request again through
"Find a slot" (a single slot or another split, on the page or over the API) deletes the earlier
later parts, through calendars.services.delete_appointment in the same transaction, and says what
it replaced; unplanning the request removes them too.

Expected times are worked out here with dateutil's rrule (Monday to Friday) and plain
datetime/zoneinfo arithmetic on Amsterdam's wall clock (the default zone of pages and technicians),
never with the booking code; deletions are counted from the `appointment_changed` signal, which the
sync and the e-mails listen to.
"""

import importlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, WEEKLY, rrule
from django.apps import apps
from django.contrib.messages import get_messages
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from calendars.signals import Change, appointment_changed
from tickets import services

AMS = ZoneInfo("Europe/Amsterdam")


def _days() -> list[date]:
    """Five working days (Monday to Friday) from a Monday at least five weeks ahead (dateutil)."""
    first = datetime.combine(timezone.localdate() + timedelta(weeks=5), datetime.min.time())
    monday = rrule(WEEKLY, byweekday=MO, dtstart=first)[0]
    return [moment.date() for moment in rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=monday)[:5]]


def _at(day: date, hour: int) -> datetime:
    """`hour`:00 on `day`'s wall clock in Amsterdam, as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=AMS).astimezone(UTC)


def _form(parts, agent) -> dict:
    """What the page's "Book in N parts" button posts."""
    return {
        "part_start": [a.isoformat() for a, _ in parts],
        "part_end": [b.isoformat() for _, b in parts],
        "agent": agent.pk,
    }


def _api_parts(parts) -> list[dict]:
    return [{"start": a.isoformat(), "end": b.isoformat()} for a, b in parts]


def _booked(ticket) -> list[tuple]:
    """The request's appointments as the calendars hold them: (start, end, source, part, subject)."""
    rows = Appointment.objects.filter(request=ticket).order_by("start")
    return [(a.start, a.end, a.source, a.part, a.subject) for a in rows]


def _said(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def deleted_ids():
    """Ids of the appointments whose deletion was announced (what sync and e-mail hear)."""
    seen: list[int] = []

    def hear(sender, appointment, change, **kwargs):
        if change == Change.DELETED:
            seen.append(appointment.pk)

    appointment_changed.connect(hear, weak=False)
    yield seen
    appointment_changed.disconnect(hear)


@pytest.fixture
def server_move(alice):
    """A 12-hour job booked in two parts with Alice: Monday 08:00-17:00 and Tuesday 08:00-11:00."""
    ticket = services.create_request(
        summary="Server move", site="Hall", assigned_agents=[alice], estimate=timedelta(hours=12)
    )
    mon, tue = _days()[:2]
    services.book_split(ticket, parts=[(_at(mon, 8), _at(mon, 17)), (_at(tue, 8), _at(tue, 11))], agents=[alice])
    return ticket


def test_booking_a_split_again_on_the_page_replaces_the_earlier_later_part(
    page_client, coordinator, alice, server_move, deleted_ids
):
    _mon, tue, wed, thu, _fri = _days()
    old_part = Appointment.objects.get(request=server_move, part=2)
    parts = [(_at(wed, 8), _at(wed, 12)), (_at(thu, 8), _at(thu, 13)), (_at(_fri, 8), _at(_fri, 11))]

    response = page_client(coordinator).post(f"/requests/{server_move.pk}/book-split/", _form(parts, alice))

    assert response.status_code == 302
    n = server_move.pk
    assert _booked(server_move) == [
        (_at(wed, 8), _at(wed, 12), Appointment.Source.PLANNED, None, f"#{n} Server move"),
        (_at(thu, 8), _at(thu, 13), Appointment.Source.MANUAL, 2, f"#{n} Server move (part 2 of 3)"),
        (_at(_fri, 8), _at(_fri, 11), Appointment.Source.MANUAL, 3, f"#{n} Server move (part 3 of 3)"),
    ]
    assert old_part.pk in deleted_ids  # through delete_appointment: external calendars hear of it
    server_move.refresh_from_db()
    assert server_move.planned_length == timedelta(hours=4)
    tuesday = datetime(tue.year, tue.month, tue.day, tzinfo=AMS)
    assert _said(response) == [
        (
            "success",
            f"Planned in 3 parts from {wed:%a} {wed.day} {wed:%b %Y} 08:00 with Alice. This replaces the earlier "
            f'booking: removed part 2 "#{n} Server move (part 2 of 2)" {tuesday:%a} {tuesday.day} {tuesday:%b %Y} '
            "08:00–11:00.",
        )
    ]


def test_booking_a_single_slot_on_the_page_removes_the_later_parts_and_books_the_whole_estimate(
    page_client, coordinator, alice, server_move, deleted_ids
):
    """The estimate came down to 6 hours since the split was booked: one slot holds it now."""
    services.update_request(server_move, estimate=timedelta(hours=6))
    wed = _days()[2]
    old_part = Appointment.objects.get(request=server_move, part=2)

    response = page_client(coordinator).post(
        f"/requests/{server_move.pk}/book-slot/", {"start": _at(wed, 9).isoformat(), "agent": alice.pk}
    )

    assert response.status_code == 302
    assert _booked(server_move) == [
        (_at(wed, 9), _at(wed, 15), Appointment.Source.PLANNED, None, f"#{server_move.pk} Server move")
    ]
    assert deleted_ids == [old_part.pk]
    server_move.refresh_from_db()
    assert server_move.planned_length is None
    assert "This replaces the earlier booking: removed part 2 " in _said(response)[0][1]


def test_a_later_part_moved_and_renamed_by_hand_is_still_replaced_and_the_page_says_so(
    page_client, coordinator, alice, server_move
):
    _mon, tue, wed, thu, _fri = _days()
    part = Appointment.objects.get(request=server_move, part=2)
    calendar_services.update_appointment(part, subject="Server move: cabling", start=_at(tue, 13), end=_at(tue, 16))
    parts = [(_at(wed, 8), _at(wed, 17)), (_at(thu, 8), _at(thu, 11))]

    response = page_client(coordinator).post(f"/requests/{server_move.pk}/book-split/", _form(parts, alice))

    assert [row[:4] for row in _booked(server_move)] == [
        (_at(wed, 8), _at(wed, 17), Appointment.Source.PLANNED, None),
        (_at(thu, 8), _at(thu, 11), Appointment.Source.MANUAL, 2),
    ]
    tuesday = datetime(tue.year, tue.month, tue.day, tzinfo=AMS)
    [(level, text)] = _said(response)
    assert level == "warning"
    assert text.endswith(
        f'removed part 2 "Server move: cabling" {tuesday:%a} {tuesday.day} {tuesday:%b %Y} 13:00–16:00, '
        "changed by hand since it was booked."
    )


def test_a_manual_appointment_on_the_request_is_not_a_part_and_stays(page_client, coordinator, alice, server_move):
    wed, thu = _days()[2:4]
    visit = calendar_services.create_appointment(
        subject="Site survey", start=_at(thu, 14), end=_at(thu, 15), agents=[alice], request=server_move
    )

    page_client(coordinator).post(
        f"/requests/{server_move.pk}/book-split/",
        _form([(_at(wed, 8), _at(wed, 17)), (_at(thu, 8), _at(thu, 11))], alice),
    )

    assert Appointment.objects.filter(pk=visit.pk).exists()
    assert Appointment.objects.filter(request=server_move, part__isnull=False).count() == 1


def test_the_api_books_again_and_answers_what_it_replaced(api_client, coordinator, alice, server_move):
    _mon, tue, wed, thu, fri = _days()
    client = api_client(coordinator)
    split = [(_at(wed, 8), _at(wed, 14)), (_at(thu, 8), _at(thu, 14))]

    first = client.post(
        f"/api/requests/{server_move.pk}/book-split/", {"parts": _api_parts(split), "agents": [alice.pk]}, format="json"
    )

    assert first.status_code == 200, first.content
    n = server_move.pk
    [replaced] = first.json()["replaced"]
    assert (replaced["part"], replaced["subject"], replaced["edited"]) == (2, f"#{n} Server move (part 2 of 2)", False)
    assert (datetime.fromisoformat(replaced["start"]), datetime.fromisoformat(replaced["end"])) == (
        _at(tue, 8),
        _at(tue, 11),
    )
    assert first.json()["planned_length"] == "06:00:00"

    # The estimate comes down to 8 hours; the new part 2 is renamed; a single slot replaces the split.
    services.update_request(server_move, estimate=timedelta(hours=8))
    part = Appointment.objects.get(request=server_move, part=2)
    assert client.get(f"/api/appointments/{part.pk}/").json()["part"] == 2
    renumbered = client.patch(f"/api/appointments/{part.pk}/", {"subject": "Racks", "part": 5}, format="json")
    assert (renumbered.status_code, list(renumbered.json())) == (400, ["part"])  # read-only
    client.patch(f"/api/appointments/{part.pk}/", {"subject": "Racks", "part": 2}, format="json")
    assert Appointment.objects.get(pk=part.pk).part == 2
    slot = client.post(
        f"/api/requests/{n}/book-slot/", {"start": _at(fri, 8).isoformat(), "agents": [alice.pk]}, format="json"
    )

    assert slot.status_code == 200, slot.content
    body = slot.json()
    assert [(r["part"], r["subject"], r["edited"]) for r in body["replaced"]] == [(2, "Racks", True)]
    assert body["planned_length"] is None
    assert datetime.fromisoformat(body["planned_start"]) == _at(fri, 8)
    assert _booked(server_move) == [(_at(fri, 8), _at(fri, 16), Appointment.Source.PLANNED, None, f"#{n} Server move")]


def test_the_api_can_book_the_same_parts_again_in_place_of_the_old_ones(api_client, coordinator, alice, server_move):
    """The old later part does not stand in the way of a new part at its own time."""
    mon, tue = _days()[:2]
    parts = [(_at(mon, 8), _at(mon, 17)), (_at(tue, 8), _at(tue, 11))]

    again = api_client(coordinator).post(
        f"/api/requests/{server_move.pk}/book-split/", {"parts": _api_parts(parts), "agents": [alice.pk]}, format="json"
    )

    assert again.status_code == 200, again.content
    assert [row[:4] for row in _booked(server_move)] == [
        (_at(mon, 8), _at(mon, 17), Appointment.Source.PLANNED, None),
        (_at(tue, 8), _at(tue, 11), Appointment.Source.MANUAL, 2),
    ]


def test_a_refused_rebooking_keeps_the_earlier_booking(api_client, coordinator, alice, server_move):
    """The new slot is taken since it was proposed: 409, and nothing of the earlier booking is removed."""
    wed = _days()[2]
    calendar_services.create_appointment(subject="Other job", start=_at(wed, 9), end=_at(wed, 10), agents=[alice])
    before = _booked(server_move)
    services.update_request(server_move, estimate=timedelta(hours=6))

    taken = api_client(coordinator).post(
        f"/api/requests/{server_move.pk}/book-slot/",
        {"start": _at(wed, 8).isoformat(), "agents": [alice.pk]},
        format="json",
    )

    assert taken.status_code == 409
    assert _booked(server_move) == before  # the later part's deletion was rolled back with the rest


def test_clearing_the_planned_date_removes_the_later_parts(api_client, coordinator, server_move, deleted_ids):
    parts = list(Appointment.objects.filter(request=server_move).values_list("pk", flat=True))

    response = api_client(coordinator).patch(f"/api/requests/{server_move.pk}/", {"planned_start": None}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["planned_length"] is None
    assert not Appointment.objects.filter(request=server_move).exists()
    assert sorted(deleted_ids) == sorted(parts)


def test_clearing_the_planned_date_on_the_page_removes_the_later_parts(page_client, coordinator, alice, server_move):
    form = {
        "summary": "Server move",
        "status": "new",
        "assigned_agents": [alice.pk],
        "planned_start": "",
        "estimate": 720,
    }

    response = page_client(coordinator).post(f"/requests/{server_move.pk}/edit/", form)

    assert response.status_code == 302
    assert not Appointment.objects.filter(request=server_move).exists()
    server_move.refresh_from_db()
    assert (server_move.planned_start, server_move.planned_length) == (None, None)


def test_deleting_the_first_part_on_the_calendar_unplans_the_request_and_its_later_parts_go(
    api_client, coordinator, server_move, deleted_ids
):
    first = Appointment.objects.get(request=server_move, source=Appointment.Source.PLANNED)
    later = Appointment.objects.get(request=server_move, part=2)

    assert api_client(coordinator).delete(f"/api/appointments/{first.pk}/").status_code == 204

    assert not Appointment.objects.filter(request=server_move).exists()
    assert sorted(deleted_ids) == sorted([first.pk, later.pk])
    server_move.refresh_from_db()
    assert (server_move.planned_start, server_move.planned_length) == (None, None)


def test_deleting_the_request_announces_each_of_its_parts_once(page_client, coordinator, server_move, deleted_ids):
    ids = list(Appointment.objects.filter(request=server_move).values_list("pk", flat=True))

    assert page_client(coordinator).post(f"/requests/{server_move.pk}/delete/").status_code == 302

    assert sorted(deleted_ids) == sorted(ids) and len(ids) == 2
    assert not Appointment.objects.filter(pk__in=ids).exists()


def test_parts_booked_before_the_field_get_their_number_from_their_subject(alice, server_move):
    migration = importlib.import_module("calendars.migrations.0007_parts_part_number")
    Appointment.objects.filter(request=server_move).update(part=None)
    plain = calendar_services.create_appointment(
        subject="Quote (part 2 of 2) check",
        start=_at(_days()[4], 8),
        end=_at(_days()[4], 9),
        agents=[alice],
        request=server_move,
    )

    migration.mark_booked_parts(apps, None)

    parts = dict(Appointment.objects.filter(request=server_move).values_list("pk", "part"))
    later = Appointment.objects.get(request=server_move, subject=f"#{server_move.pk} Server move (part 2 of 2)")
    assert parts[later.pk] == 2
    assert parts[plain.pk] is None
    assert list(Appointment.objects.filter(request=server_move, part__isnull=False)) == [later]


def test_the_api_books_a_slot_only_for_those_who_may_plan_the_request(api_client, alice, bob, server_move):
    """Bob is not on the request: 403 and the booking stays; no technicians: 400."""
    wed = _days()[2]
    before = _booked(server_move)
    url = f"/api/requests/{server_move.pk}/book-slot/"

    refused = api_client(bob.user).post(url, {"start": _at(wed, 8).isoformat(), "agents": [bob.pk]}, format="json")
    nobody = api_client(alice.user).post(url, {"start": _at(wed, 8).isoformat(), "agents": []}, format="json")

    assert (refused.status_code, nobody.status_code) == (403, 400)
    assert _booked(server_move) == before

"""A timed entry moved onto a busy all-day entry of the same technician is a double booking
(trial fault: "Holiday" / "Day off" all-day entries gave no warning). An all-day entry is its
days, and RFC 5545 3.3.4 / 3.6.1 reads a DATE on the reader's own calendar: for each technician
it covers midnight to midnight on their clock, whichever technician's midnights it was stored at.
A transparent one (TRANSP:TRANSPARENT, Graph/EWS showAs free) is free time and does not warn.

The expected instants come from zoneinfo: Auckland's Wed 4 Mar 2026 begins at 3 Mar 11:00 UTC
(NZDT, UTC+13), while a holiday shared with a New York technician is stored from New York's
midnight (4 Mar 05:00 UTC), after all of Auckland's working day on the 4th."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars import services
from calendars.models import Appointment

pytestmark = pytest.mark.django_db

AUCKLAND = ZoneInfo("Pacific/Auckland")


@pytest.fixture
def kiri(make_agent):
    return make_agent("kiri", time_zone="Pacific/Auckland")


def holiday(agents, **fields):
    return services.create_appointment(
        subject="Holiday", all_day=True, start=date(2026, 3, 4), end=date(2026, 3, 5), agents=agents, **fields
    )


def move_kiris_job_to_the_4th(client, kiri, **extra):
    """Kiri's job from Tue 3 Mar to Wed 4 Mar 10:00-11:00 on her clock (in her working hours)."""
    job = services.create_appointment(
        subject="Job",
        start=datetime(2026, 3, 3, 10, tzinfo=AUCKLAND),
        end=datetime(2026, 3, 3, 11, tzinfo=AUCKLAND),
        agents=[kiri],
    )
    body = {
        "start": datetime(2026, 3, 4, 10, tzinfo=AUCKLAND).isoformat(),
        "end": datetime(2026, 3, 4, 11, tzinfo=AUCKLAND).isoformat(),
        **extra,
    }
    return job, client.patch(f"/api/appointments/{job.pk}/", body, format="json")


def test_a_job_moved_onto_a_shared_holiday_on_the_technicians_own_day_is_refused_with_409(
    coordinator, frank, kiri, api_client
):
    entry = holiday([frank, kiri])
    assert entry.start == datetime(2026, 3, 4, 5, tzinfo=UTC)  # New York's midnight: not Kiri's day

    job, answer = move_kiris_job_to_the_4th(api_client(coordinator), kiri)

    assert answer.status_code == 409
    [overlap] = answer.json()["overlaps"]
    assert overlap["agent"] == kiri.pk
    # Kiri's Wed 4 Mar, midnight to midnight on her clock (zoneinfo): 3 Mar 11:00 - 4 Mar 11:00 UTC.
    assert datetime.fromisoformat(overlap["start"]) == datetime(2026, 3, 3, 11, tzinfo=UTC)
    assert datetime.fromisoformat(overlap["end"]) == datetime(2026, 3, 4, 11, tzinfo=UTC)
    assert "Holiday" in overlap["message"] and "(all day)" in overlap["message"]
    job.refresh_from_db()
    assert job.start == datetime(2026, 3, 3, 10, tzinfo=AUCKLAND)


def test_a_confirmed_move_onto_a_holiday_is_saved(coordinator, frank, kiri, api_client):
    holiday([frank, kiri])

    job, answer = move_kiris_job_to_the_4th(api_client(coordinator), kiri, confirm_overlap=True)

    assert answer.status_code == 200
    job.refresh_from_db()
    assert job.start == datetime(2026, 3, 4, 10, tzinfo=AUCKLAND)


def test_a_job_moved_onto_a_free_all_day_entry_is_not_warned(coordinator, frank, kiri, api_client):
    holiday([frank, kiri], busy=False, source=Appointment.Source.EXTERNAL)

    _job, answer = move_kiris_job_to_the_4th(api_client(coordinator), kiri)

    assert answer.status_code == 200


def test_the_new_entry_page_asks_about_a_holiday_on_the_technicians_own_day(coordinator, frank, kiri, page_client):
    holiday([frank, kiri])

    page = page_client(coordinator).post(
        "/calendar/appointments/new/",
        {"subject": "Site visit", "start": "2026-03-03T22:00", "end": "2026-03-03T23:00", "agents": [kiri.pk]},
    )

    assert "overlaps Kiri&#x27;s &#x27;Holiday&#x27;" in page.content.decode()
    assert not Appointment.objects.filter(subject="Site visit").exists()


def test_the_free_time_search_leaves_out_a_holiday_on_the_technicians_own_day(frank, kiri):
    """The same kind in the free-time search (calendars.availability): Kiri's working day on Wed 4
    Mar (08:00-17:00 Auckland) is her holiday, so it offers none of it; Tue 3 and Thu 5 Mar are free."""
    from calendars.availability import Options, find_slots_for

    holiday([frank, kiri])
    monday = datetime(2026, 3, 2, tzinfo=AUCKLAND)

    slots = find_slots_for(
        [kiri],
        start=monday,
        end=monday + timedelta(days=5),
        options=Options(duration=timedelta(hours=1), step=timedelta(hours=1), limit=100),
        now=monday - timedelta(days=1),
    )

    days = sorted({slot.start.astimezone(AUCKLAND).date() for slot in slots})
    assert days == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 5), date(2026, 3, 6)]

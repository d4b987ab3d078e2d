from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from calendars import services
from calendars.models import Appointment, CalendarSettings


@pytest.fixture
def emails_on(calendar_settings):
    CalendarSettings.objects.filter(pk=calendar_settings.pk).update(email_technicians=True)


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0) + timedelta(days=2)


def attachment_of(message) -> Calendar:
    [(name, content, mimetype)] = message.attachments
    assert name.endswith(".ics")
    assert mimetype.startswith("text/calendar")
    return Calendar.from_ical(content)


def test_new_appointment_emails_its_technicians_with_a_publish_ics(
    emails_on, alice, bob, start, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.create_appointment(
            subject="Replace the switch",
            location="Main office",
            start=start,
            end=start + timedelta(hours=2),
            agents=[alice, bob],
        )

    assert sorted(message.to[0] for message in mail.outbox) == ["alice@example.com", "bob@example.com"]
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert message.subject == "New appointment: Replace the switch"
    assert "Main office" in message.body
    calendar = attachment_of(message)
    assert calendar["METHOD"] == "PUBLISH"
    assert b"METHOD:REQUEST" not in calendar.to_ical()
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == appointment.start
    assert "ATTENDEE" not in event


def test_no_email_while_the_setting_is_off(calendar_settings, alice, start, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_appointment(subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice])

    assert mail.outbox == []


def test_moved_appointment_emails_a_move(emails_on, alice, start, django_capture_on_commit_callbacks):
    appointment = services.create_appointment(
        subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice]
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.update_appointment(
            appointment, start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1)
        )

    [message] = mail.outbox
    assert message.subject == "Appointment moved: Visit"
    [event] = attachment_of(message).walk("VEVENT")
    assert event.decoded("dtstart") == start + timedelta(days=1)
    assert event.decoded("sequence") == 1


def test_reassignment_tells_the_new_technician_and_cancels_for_the_old(
    emails_on, alice, bob, start, django_capture_on_commit_callbacks
):
    appointment = services.create_appointment(
        subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice]
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.reassign_appointment(appointment, from_agent=alice, to_agent=bob)

    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {
        "alice@example.com": "Appointment cancelled: Visit",
        "bob@example.com": "New appointment: Visit",
    }
    cancelled = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    [event] = attachment_of(cancelled).walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"


def test_deleted_appointment_emails_a_cancellation_after_the_row_is_gone(
    emails_on, alice, start, django_capture_on_commit_callbacks
):
    appointment = services.create_appointment(
        subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice]
    )
    uid_source = appointment.pk

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_appointment(appointment)

    assert not Appointment.objects.filter(pk=uid_source).exists()
    [message] = mail.outbox
    assert message.subject == "Appointment cancelled: Visit"
    [event] = attachment_of(message).walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"
    assert str(event["UID"]).startswith(f"appointment-{uid_source}@")


def test_deleting_a_series_sends_one_email_not_one_per_occurrence(
    emails_on, alice, start, django_capture_on_commit_callbacks
):
    series = services.create_recurring_appointment(
        rule="FREQ=WEEKLY", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Weekly check"
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_appointment(series)

    [message] = mail.outbox
    assert message.subject == "Appointment cancelled: Weekly check"
    [event] = attachment_of(message).walk("VEVENT")
    assert "RRULE" in event


def test_new_series_email_carries_its_rule(emails_on, alice, start, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_recurring_appointment(
            rule="FREQ=WEEKLY", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Weekly check"
        )

    [message] = mail.outbox
    assert "Repeats: weekly" in message.body
    [event] = attachment_of(message).walk("VEVENT")
    assert event["RRULE"]["FREQ"] == ["WEEKLY"]


def test_cancelled_occurrence_emails_that_occurrence(emails_on, alice, start, django_capture_on_commit_callbacks):
    series = services.create_recurring_appointment(
        rule="FREQ=WEEKLY", agents=[alice], start=start, end=start + timedelta(hours=1), subject="Weekly check"
    )
    occurrence = series.occurrences.order_by("start")[2]

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_appointment(occurrence)

    [message] = mail.outbox
    [event] = attachment_of(message).walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"
    assert event.decoded("recurrence-id") == occurrence.original_start


def test_imported_external_entries_send_no_email(emails_on, alice, start, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_appointment(
            subject="Dentist",
            start=start,
            end=start + timedelta(hours=1),
            agents=[alice],
            source=Appointment.Source.EXTERNAL,
        )

    assert mail.outbox == []


def test_email_waits_for_the_commit(emails_on, alice, start, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.create_appointment(subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice])

    assert mail.outbox == []
    assert len(callbacks) == 1


class FlakyMailServer:
    """An e-mail backend whose first `failures` sends fail as a mail server that is away."""

    failures = 0
    attempts = 0

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            import smtplib

            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyMailServer"
    FlakyMailServer.attempts = 0
    return FlakyMailServer


def test_email_the_mail_server_refuses_is_scheduled_again_and_goes_on_the_retry(alice, flaky_mail):
    from calendars.tasks import send_appointment_notice

    flaky_mail.failures = 1  # the worker's retry finds it back
    notice = {"to": "alice@example.com", "subject": "New appointment: Visit", "body": "Hello", "ics": "BEGIN:VCALENDAR"}

    result = send_appointment_notice.apply(args=[notice], throw=False)

    assert result.state == "SUCCESS"
    assert flaky_mail.attempts == 2
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]


def test_email_that_never_goes_fails_neither_the_write_nor_the_hooks_after_it(
    emails_on, alice, start, flaky_mail, django_capture_on_commit_callbacks, caplog
):
    from django.db import transaction

    flaky_mail.failures = 100
    later_hook_ran = []
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.create_appointment(
            subject="Visit", start=start, end=start + timedelta(hours=1), agents=[alice]
        )
        # Registered after the e-mail's hook, as the sync push is.
        transaction.on_commit(lambda: later_hook_ran.append(True))

    assert Appointment.objects.filter(pk=appointment.pk).exists()
    assert later_hook_ran == [True]
    assert mail.outbox == []
    assert "alice@example.com" in caplog.text


def test_appointment_made_over_the_api_while_mail_is_down_answers_201(
    emails_on, alice, start, flaky_mail, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    flaky_mail.failures = 100
    client = APIClient()
    client.force_authenticate(alice.user)
    data = {"subject": "Visit", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    data["confirm_overlap"] = True  # two days from now may be outside Alice's working hours
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/appointments/", {**data, "agents": [alice.pk]}, format="json")

    assert response.status_code == 201
    assert Appointment.objects.filter(subject="Visit").count() == 1


def test_notice_writes_its_times_as_the_pages_do(emails_on, alice, django_capture_on_commit_callbacks):
    """The e-mail's "When:" is in the one format of helpdesk.moments, on the technician's clock,
    which is named; an all-day entry of three days names all three (RFC 5545 3.6.1: DTEND is the
    day after). It said "Wednesday 13 January 2027, 09:30 - 11:00" and, for the three days, only
    "Wednesday 13 January 2027 (all day)" before."""
    amsterdam = ZoneInfo("Europe/Amsterdam")
    with django_capture_on_commit_callbacks(execute=True):
        services.create_appointment(
            subject="Visit",
            start=datetime(2027, 1, 13, 9, 30, tzinfo=amsterdam),
            end=datetime(2027, 1, 13, 11, tzinfo=amsterdam),
            agents=[alice],
        )
        services.create_appointment(
            subject="Course",
            start=datetime(2027, 1, 13, tzinfo=amsterdam),
            end=datetime(2027, 1, 16, tzinfo=amsterdam),
            all_day=True,
            agents=[alice],
        )

    visit, course = (next(m.body for m in mail.outbox if subject in m.subject) for subject in ("Visit", "Course"))
    assert "When: Wed 13 Jan 2027 09:30\u201311:00 (Europe/Amsterdam)\n" in visit
    assert "When: Wed 13 Jan 2027 \u2013 Fri 15 Jan 2027 (all day)\n" in course


# Trial fault: notices wrote "Wednesday 16 December 2026, 10:00 - 11:00" (an en dash) and "Was:
# Wednesday 16 December 2026, 10:00", not the pages' one format (helpdesk.moments). The expected texts are
# written out by hand: 16 Dec 2026 is a Wednesday (Python's calendar), Amsterdam is UTC+1 and
# London UTC+0 in December (IANA tz database).


def body_to(address: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [address]]
    return message.body


def test_a_notice_says_the_time_as_the_pages_do_on_each_technicians_clock(
    emails_on, alice, bob, django_capture_on_commit_callbacks
):
    nine_utc = datetime(2026, 12, 16, 9, tzinfo=UTC)
    with timezone.override(ZoneInfo("America/New_York")), django_capture_on_commit_callbacks(execute=True):
        services.create_appointment(
            subject="Replace the switch", start=nine_utc, end=nine_utc + timedelta(hours=1), agents=[alice, bob]
        )

    assert "When: Wed 16 Dec 2026 10:00\u201311:00 (Europe/Amsterdam)\n" in body_to("alice@example.com")
    assert "When: Wed 16 Dec 2026 09:00\u201310:00 (Europe/London)\n" in body_to("bob@example.com")


def test_a_notice_of_a_moved_occurrence_says_where_it_was_as_the_pages_do(
    emails_on, alice, django_capture_on_commit_callbacks
):
    nine_utc = datetime(2026, 12, 15, 9, tzinfo=UTC)
    master = services.create_recurring_appointment(
        subject="Stand-up",
        start=nine_utc,
        end=nine_utc + timedelta(minutes=15),
        agents=[alice],
        rule="FREQ=DAILY;COUNT=3",
    )
    occurrence = master.occurrences.order_by("start")[1]  # Wed 16 Dec, 10:00 Amsterdam
    with django_capture_on_commit_callbacks(execute=True):
        services.update_appointment(
            occurrence, start=occurrence.start + timedelta(hours=4), end=occurrence.end + timedelta(hours=4)
        )

    body = body_to("alice@example.com")
    assert "When: Wed 16 Dec 2026 14:00\u201314:15 (Europe/Amsterdam)\n" in body
    assert "Was: Wed 16 Dec 2026 10:00 (Europe/Amsterdam)\n" in body


def test_a_notice_names_an_all_day_entry_by_its_days(emails_on, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_appointment(
            subject="Training", all_day=True, start=date(2026, 12, 16), end=date(2026, 12, 18), agents=[alice]
        )

    assert "When: Wed 16 Dec 2026 \u2013 Thu 17 Dec 2026 (all day)\n" in body_to("alice@example.com")

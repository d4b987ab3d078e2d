"""The question before saving a time that double-books (or leaves working hours) is one wording
on every page: the appointment page, a request's appointment form and the calendars' drag dialog
(calendars.conflict_words), naming each entry in the way. Before, the forms said "Double booking:
... Confirm to save anyway." beside a "Save it anyway" box and the calendar "The new time clashes
with other entries:" beside a "Save anyway" button."""

import re
from datetime import datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services as ticket_services

from .test_pages_calendars import config_of

AMS = ZoneInfo("Europe/Amsterdam")
QUESTION = "Double booking: The new time is in the way of:"
# On Bob's own clock (London), which his pages show.
BOBS_JOB = "overlaps Bob's 'Bob's job' 10:00–11:00"


@pytest.fixture
def bobs_appointment(bob):
    """Bob's job on Tuesday 2 March 2027 11:00-12:00 (ahead: past times are not asked about)."""
    return calendar_services.create_appointment(
        subject="Bob's job",
        start=datetime(2027, 3, 2, 11, tzinfo=AMS),
        end=datetime(2027, 3, 2, 12, tzinfo=AMS),
        agents=[bob],
    )


def _question(page: str) -> list[str]:
    """The conflict question's text on a page: its title and question, its lines, its advice."""
    blocks = re.findall(r'<div class="conflict-question[^"]*" role="alert">(.*?)</div>', page, re.S)
    assert len(blocks) == 1, f"{len(blocks)} conflict questions on the page, not one (trial: up to 19, a label each)"
    return [
        unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", blocks[0])
    ]


def _tick_box_label(page: str, field_id: str) -> str:
    return unescape(re.search(rf'<label for="{field_id}">(.*?)</label>', page)[1])


def test_the_appointment_page_asks_in_the_one_wording_naming_the_overlap(page_client, bob, bobs_appointment):
    times = {"start": "2027-03-02T10:30", "end": "2027-03-02T11:30"}
    response = page_client(bob.user).post(
        "/calendar/appointments/new/", {"subject": "Second job", **times, "agents": [bob.pk], "entries": "shared"}
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert _question(page) == [QUESTION, BOBS_JOB, "Tick “Save anyway” and save again to keep this time."]
    assert _tick_box_label(page, "id_confirm_overlap") == "Save anyway:"
    assert "Confirm to save anyway" not in page and "Save it anyway" not in page
    assert Appointment.objects.count() == 1


def test_a_requests_appointment_form_asks_in_the_same_wording(page_client, bob, bobs_appointment):
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[bob])
    response = page_client(bob.user).post(
        f"/requests/{ticket.pk}/appointments/",
        {
            "appointment-subject": "Second job",
            "appointment-start": "2027-03-02T10:30",
            "appointment-end": "2027-03-02T11:30",
            "appointment-agents": [bob.pk],
        },
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert _question(page) == [QUESTION, BOBS_JOB, "Tick “Save anyway” and save again to keep this time."]
    assert _tick_box_label(page, "id_appointment-confirm_overlap") == "Save anyway:"
    assert "Confirm to save anyway" not in page


def test_a_request_planned_over_an_entry_names_it_in_the_same_wording(page_client, coordinator, bob, bobs_appointment):
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[bob])
    response = page_client(coordinator).post(
        f"/requests/{ticket.pk}/edit/",
        {"summary": "Printer", "status": "new", "assigned_agents": [bob.pk], "planned_start": "2027-03-02T11:00"},
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert _question(page)[0] == QUESTION and "Bob's job" in _question(page)[1]
    assert _tick_box_label(page, "id_confirm_overlap") == "Save anyway:"


@pytest.mark.parametrize("url", ["/calendar/", "/calendar/group/"])
def test_the_calendars_drag_dialog_takes_the_same_words(page_client, coordinator, alice, url):
    config = config_of(page_client(coordinator).get(url, {"agent": alice.pk}))

    assert config["conflictWords"] == {
        "saveAnyway": "Save anyway",
        "question": "The new time is in the way of:",
        "titleOverlaps": "Double booking",
        "titleOutside": "Outside working hours",
    }


def test_the_calendar_script_writes_none_of_the_words_itself():
    script = (Path(settings.BASE_DIR) / "static" / "calendar.js").read_text()

    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert not re.search(r'"(Save anyway|Double booking|Outside working hours)"|clashes with', code)
    assert "words.saveAnyway" in script and "words.question" in script

"""Every page form refused for bad input answers the same way (trial report: a failed create
answered 200, a failed edit 400).

The convention chosen: a page re-renders an invalid form with 200, the form naming what is
wrong and keeping what was typed (Django's own convention: its generic FormView and the admin
answer 200); the API answers the same input 400 with the field's message (DRF). Nothing is
written in either case.
"""

import pytest

from calendars.models import Appointment
from tests.web.conftest import at
from tickets.models import Action, Request

END_BEFORE_START = "The end must be after the start: the end is Tue 3 Mar 2026 09:00, the start Tue 3 Mar 2026 10:00."


def _state() -> tuple:
    return (
        sorted(Request.objects.values_list("pk", "summary", "estimate")),
        sorted(Action.objects.values_list("pk", "note")),
        sorted(Appointment.objects.values_list("pk", "subject", "start", "end")),
    )


def _forms(ticket, appointment, alice) -> dict[str, tuple[str, dict, str]]:
    """name -> (page, invalid form data, a message the re-rendered form must show)."""
    times = {"start": "2026-03-03T10:00", "end": "2026-03-03T09:00"}
    return {
        "request create": (
            "/requests/new/",
            {"summary": "", "customer": "Kept", "status": "new"},
            "This field is required.",
        ),
        "request edit": (
            f"/requests/{ticket.pk}/edit/",
            {"summary": "Kept", "status": "new", "estimate": "-5"},
            "Ensure this value is greater than or equal to 1.",
        ),
        "action on a request": (
            f"/requests/{ticket.pk}/actions/",
            {"action-note": "Kept", "action-done_at": "", "action-agent": alice.pk, "action-time_taken": "0"},
            "This field is required.",
        ),
        "appointment on a request": (
            f"/requests/{ticket.pk}/appointments/",
            {
                "appointment-subject": "Kept",
                **{f"appointment-{k}": v for k, v in times.items()},
                "appointment-agents": [alice.pk],
            },
            END_BEFORE_START,
        ),
        "appointment create": (
            "/calendar/appointments/new/",
            {"subject": "Kept", **times, "agents": [alice.pk], "entries": "shared"},
            END_BEFORE_START,
        ),
        "appointment edit": (
            f"/calendar/appointments/{appointment.pk}/",
            {"subject": "Kept", **times, "agents": [alice.pk]},
            END_BEFORE_START,
        ),
    }


@pytest.mark.parametrize(
    "name",
    ["request create", "request edit", "action on a request", "appointment on a request", "appointment create",
     "appointment edit"],
)  # fmt: skip
def test_invalid_page_form_is_shown_again_with_200_and_nothing_written(
    name, page_client, alice, ticket, alices_appointment
):
    url, data, message = _forms(ticket, alices_appointment, alice)[name]
    before = _state()
    response = page_client(alice.user).post(url, data)
    page = response.content.decode()
    assert response.status_code == 200, name
    assert message in page and "errorlist" in page and "Kept" in page
    assert _state() == before


def test_the_same_bad_input_over_the_api_answers_400(api_client, alice, alices_appointment):
    url = f"/api/appointments/{alices_appointment.pk}/"
    data = {"start": "2026-03-03T10:00:00+01:00", "end": "2026-03-03T09:00:00+01:00"}
    response = api_client(alice.user).patch(url, data, format="json")
    assert response.status_code == 400 and END_BEFORE_START in str(response.json())
    alices_appointment.refresh_from_db()
    assert alices_appointment.start != at(3, 10)

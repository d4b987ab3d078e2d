"""A move of an entry from one technician to another follows one rule, in the service
(calendars.services.agents_after_move), on every path: the group calendar's drag (a PATCH naming
`from_agent` and `to_agent`) and the reassign action. A move onto a technician already on the entry
is refused by name ("Bob is already on it."), keeping both (trial 4); before, only the page's
script refused it, and a PATCH carrying the agents the drag worked out dropped Alice without a
word. Expected technicians are the entry's, as set up here."""

import pytest

from calendars.models import Appointment

LIST = "/api/appointments/"


def technicians(appointment: Appointment) -> set[int]:
    return set(Appointment.objects.get(pk=appointment.pk).agents.values_list("pk", flat=True))


def test_patch_moving_onto_a_technician_already_on_it_is_refused_and_keeps_both(
    api_client, coordinator, alice, bob, alices_appointment
):
    alices_appointment.agents.add(bob)
    body = {"from_agent": alice.pk, "to_agent": bob.pk, "confirm_overlap": True}

    response = api_client(coordinator).patch(f"{LIST}{alices_appointment.pk}/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["to_agent"] == [f"{bob.name} is already on it."]
    assert technicians(alices_appointment) == {alice.pk, bob.pk}


def test_patch_moving_with_a_new_time_swaps_the_technician_and_keeps_the_others(
    api_client, coordinator, alice, bob, carol, alices_appointment
):
    alices_appointment.agents.add(carol)
    body = {
        "from_agent": alice.pk,
        "to_agent": bob.pk,
        "start": "2026-03-02T14:00:00+01:00",
        "end": "2026-03-02T15:00:00+01:00",
        "confirm_overlap": True,
    }

    response = api_client(coordinator).patch(f"{LIST}{alices_appointment.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    assert set(response.json()["agents"]) == {bob.pk, carol.pk} == technicians(alices_appointment)
    assert response.json()["start"] == "2026-03-02T14:00:00+01:00"


def test_reassign_action_and_patch_give_the_same_refusal(api_client, coordinator, alice, bob, alices_appointment):
    alices_appointment.agents.add(bob)
    client = api_client(coordinator)
    body = {"from_agent": alice.pk, "to_agent": bob.pk}

    by_action = client.post(f"{LIST}{alices_appointment.pk}/reassign/", body, format="json")
    by_patch = client.patch(f"{LIST}{alices_appointment.pk}/", body, format="json")

    assert by_action.status_code == by_patch.status_code == 400
    assert by_action.json()["to_agent"] == by_patch.json()["to_agent"] == [f"{bob.name} is already on it."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_agent": "alice"}, "to_agent"),  # where to
        ({"to_agent": "bob", "agents": ["bob"]}, "to_agent"),  # a move or a new list, not both
    ],
)
def test_patch_with_half_a_move_is_refused_by_name(
    api_client, coordinator, alice, bob, alices_appointment, body, field
):
    ids = {"alice": alice.pk, "bob": bob.pk}
    sent = {key: [ids[v] for v in value] if isinstance(value, list) else ids[value] for key, value in body.items()}

    response = api_client(coordinator).patch(f"{LIST}{alices_appointment.pk}/", sent, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert technicians(alices_appointment) == {alice.pk}


def test_a_technician_without_the_reassign_right_may_not_move_by_patch(api_client, alice, bob, alices_appointment):
    body = {"from_agent": alice.pk, "to_agent": bob.pk}

    response = api_client(alice.user).patch(f"{LIST}{alices_appointment.pk}/", body, format="json")

    assert response.status_code == 403
    assert technicians(alices_appointment) == {alice.pk}

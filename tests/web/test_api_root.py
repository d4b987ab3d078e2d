"""The API root (/api/) names every collection a client can read."""


def test_api_root_lists_every_collection_not_only_the_viewsets(api_client, coordinator):
    """Trial report, problem 7: the root listed only agents, teams, requests and appointments;
    availability, working hours and the calendar window were only in the schema."""
    root = api_client(coordinator).get("/api/", HTTP_ACCEPT="application/json").json()

    assert root == {
        "agents": "http://testserver/api/agents/",
        "teams": "http://testserver/api/teams/",
        "requests": "http://testserver/api/requests/",
        "appointments": "http://testserver/api/appointments/",
        "appointments/calendar": "http://testserver/api/appointments/calendar/",
        "availability": "http://testserver/api/availability/",
        "working-hours": "http://testserver/api/working-hours/",
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
    }


def test_every_address_the_root_lists_answers(api_client, coordinator):
    """Each listed address exists: a GET answers 200, or 400 where required query parameters
    (a period, technicians) are missing, never 404."""
    client = api_client(coordinator)
    root = client.get("/api/", HTTP_ACCEPT="application/json").json()

    answers = {name: client.get(url).status_code for name, url in root.items()}

    assert all(code in (200, 400) for code in answers.values()), answers

"""The local Google Calendar server answers as Google's documents say, driven by the plain client
libraries (no helpdesk code): what the connector tests rely on is the documented behaviour."""

import json

import google_auth_httplib2
import httplib2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from tests.peers.google import CALENDAR_SCOPE

from .conftest import ALICE, CLIENT_ID

START = {"dateTime": "2031-03-03T09:00:00+01:00", "timeZone": "Europe/Amsterdam"}
END = {"dateTime": "2031-03-03T10:00:00+01:00", "timeZone": "Europe/Amsterdam"}


def client(google, info, subject=ALICE, scopes=(CALENDAR_SCOPE,)):
    credentials = service_account.Credentials.from_service_account_info(
        {**info, "token_uri": google.token_uri}, scopes=list(scopes)
    )
    if subject:
        credentials = credentials.with_subject(subject)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=5))
    service = build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google.api_endpoint},
    )
    return service, http


def reason(error: HttpError) -> tuple[int, str]:
    return error.resp.status, json.loads(error.content)["error"]["errors"][0]["reason"]


def test_the_jwt_grant_checks_delegated_scope_user_and_signature(google, service_account_info):
    service, _ = client(google, service_account_info, scopes=[f"{CALENDAR_SCOPE}.readonly"])
    with pytest.raises(RefreshError, match="unauthorized_client"):
        service.calendars().get(calendarId="primary").execute()

    service, _ = client(google, service_account_info, subject="nobody@example.com")
    with pytest.raises(RefreshError, match="invalid_grant"):
        service.calendars().get(calendarId="primary").execute()

    google.add_service_account(service_account_info["client_email"], CLIENT_ID, google_public_key_of_another_account())
    service, _ = client(google, service_account_info)
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        service.calendars().get(calendarId="primary").execute()


def google_public_key_of_another_account() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_client_chosen_ids_are_base32hex_and_unique(google, service_account_info):
    events = client(google, service_account_info)[0].events()
    for bad in ("ABCDEF", "abcw1", "ab1"):  # upper case, a letter after v, too short
        with pytest.raises(HttpError) as raised:
            events.insert(calendarId="primary", body={"id": bad, "start": START, "end": END}).execute()
        assert reason(raised.value) == (400, "invalid")
    events.insert(calendarId="primary", body={"id": "abc12", "start": START, "end": END}).execute()
    with pytest.raises(HttpError) as raised:
        events.insert(calendarId="primary", body={"id": "abc12", "start": START, "end": END}).execute()
    assert reason(raised.value) == (409, "duplicate")


def test_a_stale_etag_is_412_and_a_deleted_event_410(google, service_account_info):
    events = client(google, service_account_info)[0].events()
    created = events.insert(calendarId="primary", body={"summary": "a", "start": START, "end": END}).execute()
    events.patch(calendarId="primary", eventId=created["id"], body={"summary": "b"}).execute()
    request = events.update(calendarId="primary", eventId=created["id"], body={"start": START, "end": END})
    request.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as raised:
        request.execute()
    assert reason(raised.value) == (412, "conditionNotMet")

    events.delete(calendarId="primary", eventId=created["id"]).execute()
    with pytest.raises(HttpError) as raised:
        events.delete(calendarId="primary", eventId=created["id"]).execute()
    assert reason(raised.value) == (410, "deleted")
    assert events.get(calendarId="primary", eventId=created["id"]).execute()["status"] == "cancelled"


def test_sync_tokens_report_deletions_refuse_filters_and_expire(google, service_account_info):
    events = client(google, service_account_info)[0].events()
    created = events.insert(calendarId="primary", body={"summary": "a", "start": START, "end": END}).execute()
    token = events.list(calendarId="primary").execute()["nextSyncToken"]
    events.delete(calendarId="primary", eventId=created["id"]).execute()

    changes = events.list(calendarId="primary", syncToken=token).execute()
    assert [(e["id"], e["status"]) for e in changes["items"]] == [(created["id"], "cancelled")]
    assert events.list(calendarId="primary").execute()["items"] == []  # showDeleted defaults to false
    with pytest.raises(HttpError) as raised:
        events.list(calendarId="primary", syncToken=token, timeMin="2031-01-01T00:00:00Z").execute()
    assert raised.value.resp.status == 400

    google.expire_sync_tokens(ALICE)
    with pytest.raises(HttpError) as raised:
        events.list(calendarId="primary", syncToken=token).execute()
    assert reason(raised.value) == (410, "fullSyncRequired")


def test_a_cancelled_occurrence_is_listed_without_show_deleted(google, service_account_info):
    events = client(google, service_account_info)[0].events()
    master = events.insert(
        calendarId="primary", body={"start": START, "end": END, "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}
    ).execute()
    # Occurrence ids are "<master>_<UTC start in basic form>".
    events.delete(calendarId="primary", eventId=f"{master['id']}_20310304T080000Z").execute()

    items = events.list(calendarId="primary").execute()["items"]

    cancelled = [e for e in items if e.get("recurringEventId")]
    assert [(e["status"], e["originalStartTime"]["dateTime"][:19]) for e in cancelled] == [
        ("cancelled", "2031-03-04T09:00:00")
    ]


def test_a_batch_answers_each_part_and_takes_at_most_50(google, service_account_info):
    service, http = client(google, service_account_info)
    answers = []
    batch = BatchHttpRequest(callback=lambda rid, resp, exc: answers.append((rid, exc)), batch_uri=google.batch_uri)
    batch.add(service.events().insert(calendarId="primary", body={"start": START, "end": END}))
    batch.add(service.events().delete(calendarId="primary", eventId="missing00"))
    batch.execute(http=http)
    assert answers[0][1] is None and reason(answers[1][1]) == (404, "notFound")

    too_many = BatchHttpRequest(callback=lambda *a: None, batch_uri=google.batch_uri)
    for _ in range(51):
        too_many.add(service.events().insert(calendarId="primary", body={"start": START, "end": END}))
    with pytest.raises(HttpError) as raised:
        too_many.execute(http=http)
    assert raised.value.resp.status == 400


def test_a_page_token_continues_the_listing_and_the_last_page_carries_the_sync_token(google, service_account_info):
    events = client(google, service_account_info)[0].events()
    for n in range(3):
        events.insert(calendarId="primary", body={"summary": str(n), "start": START, "end": END}).execute()

    first = events.list(calendarId="primary", maxResults=2).execute()
    second = events.list(calendarId="primary", maxResults=2, pageToken=first["nextPageToken"]).execute()

    assert "nextSyncToken" not in first and "nextPageToken" not in second
    assert [e["summary"] for e in first["items"] + second["items"]] == ["0", "1", "2"]
    assert second["nextSyncToken"]


def test_every_event_has_an_event_type_and_events_list_filters_by_event_types(google, service_account_info):
    """Calendar API guide "Event types": every event is returned with an eventType ("default" when
    unset on insert), events.list takes eventTypes repeated, and the type cannot be changed."""
    service, _ = client(google, service_account_info)
    events = service.events()
    plain = events.insert(calendarId="primary", body={"summary": "Visit", "start": START, "end": END}).execute()
    away = events.insert(
        calendarId="primary",
        body={"summary": "Away", "start": START, "end": END, "eventType": "outOfOffice"},
    ).execute()
    google.phone_insert(
        ALICE, eventType="workingLocation", start={"date": "2031-03-03"}, end={"date": "2031-03-04"}, summary="Home"
    )

    assert (plain["eventType"], away["eventType"]) == ("default", "outOfOffice")
    listed = events.list(calendarId="primary", eventTypes=["default", "outOfOffice"]).execute()["items"]
    assert sorted(item["summary"] for item in listed) == ["Away", "Visit"]
    everything = events.list(calendarId="primary").execute()["items"]
    assert sorted(item["eventType"] for item in everything) == ["default", "outOfOffice", "workingLocation"]
    with pytest.raises(HttpError) as refused:
        events.patch(calendarId="primary", eventId=plain["id"], body={"eventType": "focusTime"}).execute()
    assert reason(refused.value) == (400, "invalid")

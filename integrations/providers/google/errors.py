"""google-api-python-client's and google-auth's errors in our terms (base.py's ProviderError family),
each with the message a person needs and the fix.

Sources: the Calendar API's "Handle API errors" guide (400 invalid, 401 authError, 403
rateLimitExceeded / userRateLimitExceeded / accessNotConfigured / insufficientPermissions, 404
notFound, 409 duplicate, 410 fullSyncRequired / deleted, 412 conditionNotMet, 429, 5xx
backendError) and RFC 6749 section 5.2 with Google's OAuth documents for the token endpoint
(invalid_grant, invalid_client, unauthorized_client).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping

import httplib2
from google.auth import exceptions as auth_errors
from googleapiclient.errors import HttpError

from ..base import (
    ConnectionProblem,
    EntryRefused,
    ProviderError,
    RemoteNotFound,
    RightsLost,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
    retry_after_seconds,
    unreachable_reason,
)

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
RATE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
# 403 reasons about one event rather than the calendar, with what they mean for the technician.
# Not requiredAccessLevel: "You need to have writer access to this calendar", a calendar shared
# read-only, which an admin must fix (a ConnectionProblem, as any 403 reason not named here).
ENTRY_REFUSALS = {
    "forbiddenForNonOrganizer": "only the organiser of this invitation may change it; it stays as it is in Google",
    "forbiddenForServiceAccounts": "Google lets no service account write this entry; it stays as it is in Google",
}


def reason_of(error: HttpError) -> str:
    """The first `errors[].reason` of a Google error answer ("" when there is none)."""
    try:
        details = json.loads(error.content.decode("utf-8", "replace"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    for item in details.get("errors") or ():
        if item.get("reason"):
            return item["reason"]
    return details.get("status", "") if isinstance(details, dict) else ""


def status_of(error: HttpError) -> int:
    return int(getattr(error.resp, "status", 0) or 0)


def translate(
    error: Exception,
    *,
    who: str,
    mailbox: str,
    client_id: str = "",
    what: str = "event",
    calendar_id: str = "primary",
    address: str = "",
    delegated: bool = True,
) -> ProviderError:
    """Our error for one raised while working on `mailbox`'s calendar as `who` (the service account
    or the technician's own sign-in). `what` is "event" (a read of one event), "write" (a change or
    deletion of one), "insert" (an events.insert into the calendar), "listing" (events.list of the
    calendar) or "calendar": a 404 on the calendar itself is a set-up problem, on an event the entry
    being gone. requiredAccessLevel ("You need to have writer access to this calendar") is the
    calendar made read-only, RightsLost, wherever met. Another 403 on one event is EntryRefused: for
    a reason of ENTRY_REFUSALS that entry's alone (`entry_alone`); for any other ("forbidden") the
    engine asks the calendarList entry's accessRole whether the whole calendar lost a right. A 403
    on the calendar itself (an insert, a listing) is a ConnectionProblem.
    `address`: the URL called (the API
    endpoint, or the token endpoint for a sign-in), named when it cannot be reached. `delegated`: a
    service account acting for `mailbox` (its refusals advise on keys and delegation), else the
    technician's own sign-in (they reconnect)."""
    if isinstance(error, auth_errors.RefreshError):
        return _refresh_error(error, who=who, mailbox=mailbox, client_id=client_id, delegated=delegated)
    if isinstance(error, auth_errors.TransportError | httplib2.HttpLib2Error | socket.timeout | OSError):
        return TransientError(unreachable_reason(error, address) or f"Google did not answer: {error}")
    if not isinstance(error, HttpError):
        return ProviderError(f"Google answered {type(error).__name__}: {error}")
    status, reason = status_of(error), reason_of(error)
    if status == 429 or (status == 403 and reason in RATE_LIMITS):
        wait = retry_after_seconds(error.resp.get("retry-after"))
        asks = f"; it asks for a pause of {wait:g} s" if wait else ""
        return TransientError(
            f"Google's rate limit for {mailbox} was reached ({reason or status}){asks}.", retry_after=wait
        )
    if status >= 500:
        return TransientError(f"Google had a passing fault (HTTP {status} {reason}).")
    if status == 403 and reason == "accessNotConfigured":
        return ConnectionProblem(
            "The Google Calendar API is disabled for the service account's Cloud project: enable it in the "
            "Google Cloud console (APIs & Services > Library > Google Calendar API > Enable), then test again."
        )
    if status == 403 and reason in ("insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
        return ConnectionProblem(
            f"{who} may not change calendars: grant the scope {CALENDAR_SCOPE} (domain-wide delegation in the "
            "Admin console, or sign in again with calendar access)."
        )
    if status == 401:
        return ConnectionProblem(f"Google refused the sign-in of {who}: reconnect the account and test again.")
    if status == 410 and (reason == "fullSyncRequired" or what == "listing"):
        # "Synchronize resources efficiently": a 410 on an incremental listing, whatever its reason
        # (updatedMinTooLongAgo, none), means wiping the token and listing in full.
        return SyncTokenExpired(f"Google refused the sync token of {mailbox}'s calendar: a full resync is needed.")
    if status == 412:
        return VersionConflict(f"The entry changed in {mailbox}'s calendar since we last read it.")
    if status in (404, 410):
        if what in ("calendar", "listing"):  # the calendar's events listing: the calendar is gone (review 15)
            return ConnectionProblem(
                f"Google has no calendar {calendar_id!r} of {mailbox} that {who} can open: check the technician's "
                "e-mail address (the Workspace user's primary address) or the calendar's id, and that the calendar "
                "is shared with the account."
            )
        return RemoteNotFound(f"The entry is no longer in {mailbox}'s calendar.")
    if status == 403 and what == "write" and reason in ENTRY_REFUSALS:
        # A refusal of this one entry (the "Handle API errors" guide's forbiddenForNonOrganizer):
        # the entry fails alone, the calendar goes on syncing; no need to ask the calendar's rights.
        hint = ENTRY_REFUSALS[reason]
        return EntryRefused(
            f"Google would not take the helpdesk's change to this entry in {mailbox}'s calendar ({reason}): {hint}; "
            "the helpdesk keeps its own version.",
            write=True,
            entry_alone=True,
        )
    if status == 403 and what == "write" and reason != "requiredAccessLevel":
        return EntryRefused(
            f"Google would not take the helpdesk's change to this entry in {mailbox}'s calendar "
            f"({reason or 'forbidden'}): the entry stays as it is in Google and the helpdesk keeps its own version.",
            write=True,
        )
    if status == 403 and what == "event" and reason != "requiredAccessLevel":
        return EntryRefused(
            f"Google refused to show this entry of {mailbox}'s calendar ({reason or 'forbidden'}).", write=False
        )
    if status == 403 and reason == "requiredAccessLevel":
        return RightsLost(
            f"{who} may only read {mailbox}'s calendar now, Google says (requiredAccessLevel): the helpdesk's "
            'changes wait until it may write there again; share it with the account with "Make changes to events", '
            "then test again."
        )
    if status == 403:
        return ConnectionProblem(f"Google refused access to {mailbox}'s calendar for {who} ({reason or 'forbidden'}).")
    return ProviderError(f"Google refused the request (HTTP {status} {reason}): {error}")


def refresh_refusal(error: auth_errors.RefreshError) -> tuple[str, str]:
    """(the token endpoint's `error` code, its description) of a refused grant: RFC 6749 section
    5.2's JSON fields when google-auth kept the answer (args[1]), else its "code: text" message."""
    message = str(error.args[0]) if error.args else ""
    answer = error.args[1] if len(error.args) > 1 else None
    if isinstance(answer, Mapping) and answer.get("error"):
        return str(answer["error"]), str(answer.get("error_description") or message)
    code, _, rest = message.partition(":")
    return (code.strip(), rest.strip() or message) if rest else ("", message)


def _refresh_error(
    error: auth_errors.RefreshError, *, who: str, mailbox: str, client_id: str, delegated: bool
) -> ProviderError:
    code, text = refresh_refusal(error)
    named = f"{code}: {text}" if code else text
    if getattr(error, "retryable", False):
        return TransientError(f"Google's sign-in service had a passing fault ({named}).")
    if not delegated:
        # The technician's own sign-in (a refresh token of the connection's OAuth client).
        if code == "invalid_client":
            return ConnectionProblem(
                f"Google refused the helpdesk's OAuth client {client_id} ({named}): an administrator must check "
                "the connection's client id and secret."
            )
        return ConnectionProblem(
            f"Google no longer accepts {mailbox}'s sign-in ({named}): the access was withdrawn or has expired: "
            'reconnect on the "Connect my Google calendar" page.'
        )
    if code == "unauthorized_client":
        return ConnectionProblem(
            f"The service account {who} may not act for {mailbox}: domain-wide delegation is not granted. In the "
            f"Google Admin console open Security > Access and data control > API controls > Manage domain-wide "
            f"delegation, add the client id {client_id or '(the client_id in the JSON key)'} with the scope "
            f"{CALENDAR_SCOPE}, then test again."
        )
    if code == "invalid_grant" and ("User ID" in text or "email" in text.lower()):
        return ConnectionProblem(
            f"Google has no Workspace user {mailbox}: check the technician's e-mail address (the primary address "
            "in the Admin console)."
        )
    if code in ("invalid_grant", "invalid_client"):
        return ConnectionProblem(
            f"Google refused the key of {who} ({named}): the key was deleted or is wrong. Create a new JSON key "
            "for the service account in the Cloud console (IAM & Admin > Service accounts > Keys) and enter it in "
            "the connection."
        )
    return ConnectionProblem(f"Google refused the sign-in of {who}: {named}")

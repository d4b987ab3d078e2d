"""Graph's and the Microsoft identity platform's errors in our terms (base.py's ProviderError family)."""

from __future__ import annotations

from ..base import (
    ConnectionProblem,
    EntryRefused,
    ProviderError,
    RemoteNotFound,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
    retry_after_seconds,
)

# AADSTS codes (Microsoft identity platform error codes) -> what the admin must do.
SIGN_IN_FIXES = {
    7000215: "the client secret is wrong or expired: create a new secret under Certificates & secrets in the app "
    "registration and paste its Value (not its Secret ID)",
    7000222: "the client secret has expired: create a new one in the app registration",
    65001: "admin consent for the Calendars.ReadWrite application permission is missing: open the app "
    "registration's API permissions and click Grant admin consent",
    700016: "no app with this client id exists in the tenant: check the Application (client) ID",
    90002: "the tenant does not exist: check the Directory (tenant) ID",
    900023: "the tenant id is not valid: use the Directory (tenant) ID of the app registration",
}


def sign_in_error(answer: dict, client_id: str) -> ProviderError:
    """msal's error answer of the token endpoint (`error`, `error_description`, `error_codes`) as ours."""
    codes = answer.get("error_codes") or []
    for code in codes:
        if code in SIGN_IN_FIXES:
            return ConnectionProblem(
                f"Microsoft 365 refused the sign-in of app {client_id}: {SIGN_IN_FIXES[code]} [AADSTS{code}]."
            )
    description = (answer.get("error_description") or answer.get("error") or "unknown error").splitlines()[0][:300]
    if answer.get("error") in ("temporarily_unavailable", "server_error"):
        return TransientError(f"The Microsoft sign-in service is busy: {description}")
    return ConnectionProblem(f"Microsoft 365 refused the sign-in of app {client_id}: {description}")


# What Graph says when the tenant's application access policy keeps the app out of a mailbox ("Access to
# OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.", Graph
# "Limiting application permissions to specific mailboxes"): it refuses every request on that mailbox,
# the ones that name one event too, so it is the calendar's problem wherever it is met.
_POLICY_WORDS = ("accesspolicy", "access to odata is disabled", "raop")


def _mailbox_refused(message: str) -> bool:
    """Whether a 403's message is the application access policy's refusal of the whole mailbox."""
    text = message.lower()
    return any(words in text for words in _POLICY_WORDS)


def graph_error(status: int, body: dict, headers, mailbox: str, *, item: bool, write: bool = False) -> ProviderError:
    """A Graph error answer (`{"error": {"code", "message"}}`, Graph "Microsoft Graph error responses")
    as ours. `item`: the request named one event, so a 404 means the event, not the mailbox.
    `write`: the request created, changed or deleted an event.

    A 403 (ErrorAccessDenied) on one event, or on a write, is EntryRefused: Outlook refuses single
    items (an invitation only its organiser may change, a delegate's private item) as it refuses a
    calendar the app may no longer write, so the engine asks the calendar's `canEdit` to tell them
    apart. The application access policy's refusal, which names the whole mailbox in its message,
    and a 403 on the calendar itself, are ConnectionProblems at once."""
    error = body.get("error") if isinstance(body, dict) else None
    code = (error or {}).get("code", "") if isinstance(error, dict) else ""
    message = (error or {}).get("message", "") if isinstance(error, dict) else ""
    if status in (429, 503, 504) or code in ("ApplicationThrottled", "ErrorServerBusy"):
        wait = retry_after_seconds(headers.get("Retry-After") if headers else None)
        asks = f"; it asks for a pause of {wait:g} s" if wait else ""
        return TransientError(f"Microsoft 365 is busy (HTTP {status} {code}){asks}.", retry_after=wait)
    if status == 424:
        return TransientError("Microsoft 365 did not try this write: an earlier one in its batch failed.")
    if status == 410 or code.lower() in ("syncstatenotfound", "syncstateinvalid", "resyncrequired"):
        return SyncTokenExpired(f"Microsoft 365 refused the delta link of {mailbox}: a full resync is needed.")
    if status == 412:
        return VersionConflict(f"The entry changed in {mailbox}'s calendar since we last read it.")
    if status == 401:
        return ConnectionProblem(
            f"Microsoft 365 refused the app's token ({code}): check that the app has the Calendars.ReadWrite "
            "application permission with admin consent."
        )
    if (status == 403 or code == "ErrorAccessDenied") and (item or write) and not _mailbox_refused(message):
        said = f"HTTP {status} {code}: {message[:300]}".strip(": ")
        if write:
            return EntryRefused(
                f"Microsoft 365 would not take the helpdesk's change to this entry in {mailbox}'s calendar ({said}): "
                "the entry stays as it is in Outlook and the helpdesk keeps its own version.",
                write=True,
            )
        return EntryRefused(f"Microsoft 365 refused to show this entry of {mailbox}'s calendar ({said}).", write=False)
    if status == 403 or code == "ErrorAccessDenied":
        return ConnectionProblem(
            f"The app may not open {mailbox}'s calendar: the tenant's application access policy does not include "
            f"this mailbox; add it to the policy's group (New-ApplicationAccessPolicy / Set-ApplicationAccessPolicy) "
            f"[{code or status}]."
        )
    if code == "MailboxNotEnabledForRESTAPI":
        return ConnectionProblem(
            f"{mailbox} has no Exchange Online mailbox Graph can reach (on-premises or inactive): give the technician "
            f"an Exchange Online licence, or connect this mailbox over EWS [{code}]."
        )
    if status == 404 and not item:
        return ConnectionProblem(
            f"Microsoft 365 has no mailbox for {mailbox}: check the technician's e-mail address [{code or 404}]."
        )
    if status == 404:
        return RemoteNotFound(f"The entry is no longer in {mailbox}'s calendar.")
    if status >= 500:
        return TransientError(f"Microsoft 365 did not answer properly (HTTP {status} {code}).")
    refused = ProviderError(f"Microsoft 365 refused the request (HTTP {status} {code}): {message[:300]}")
    refused.status, refused.code = status, code  # for callers that have a fallback for one refusal
    return refused

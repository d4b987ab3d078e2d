"""exchangelib's errors in our terms (base.py's ProviderError family), with the message a person needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from exchangelib import errors as ews_errors
from exchangelib.protocol import FailFast

from ..base import (
    ConnectionProblem,
    EntryRefused,
    ProviderError,
    RemoteNotFound,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
    retry_after_seconds,
    unreachable_reason,
)

if TYPE_CHECKING:
    from .client import ExchangeSettings


class FailFastKeepingRetryAfter(FailFast):
    """exchangelib's FailFast policy (no sleeping inside exchangelib: our RetryPolicy decides),
    except that the wait an HTTP 503 or 429 asks for in Retry-After reaches us.

    FailFast turns a 503 into ErrorInternalServerTransientError and a 429 into
    MalformedResponseError, both without the header; here either becomes ErrorServerBusy whose
    back_off is the Retry-After value in seconds (RFC 9110 section 10.2.3, seconds or HTTP-date),
    or None when the server named no wait. The provider also sets the protocol's RETRY_WAIT to 0,
    so a back_off is only ever the server's own figure, never exchangelib's guess.
    """

    def raise_response_errors(self, response) -> None:
        try:
            super().raise_response_errors(response)
        except (
            ews_errors.ErrorInternalServerTransientError,
            ews_errors.ErrorServerBusy,
            ews_errors.MalformedResponseError,
        ) as error:
            if response.status_code not in (429, 503):
                raise
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise ews_errors.ErrorServerBusy(f"Exchange answered HTTP {response.status_code}", back_off=wait) from error


def translate(
    error: Exception, settings: ExchangeSettings, mailbox: str, *, item: bool = False, write: bool = False
) -> ProviderError:
    """Our error for an exchangelib or requests error raised while working on mailbox's calendar.
    `item`: the error is one item's own ResponseMessage of a request on many (MS-OXWS 3.1.4), and
    `write` that request wrote it. An ErrorAccessDenied there is EntryRefused: Exchange refuses one
    item (a delegate's private item, a meeting only its organiser may change) as it refuses every
    item of a folder the account may only read, so the engine asks the folder's EffectiveRights to
    tell them apart; on the request or the folder itself it is a ConnectionProblem."""
    user = settings.username
    if isinstance(error, requests.RequestException | ews_errors.TransportError | ews_errors.RedirectError):
        plain = unreachable_reason(error, settings.server_url or "")
        if plain:  # refused, unknown host, TLS, no answer: one sentence, no library text
            return TransientError(plain)
        if "Code: 404" in str(error):  # exchangelib's TransportError for an HTTP 404 of the EWS address
            return ConnectionProblem(
                f"Nothing at {settings.server_url}: no Exchange Web Services at this path; check the address "
                "(usually https://mail.example.com/EWS/Exchange.asmx)."
            )
    if isinstance(error, ews_errors.UnauthorizedError):
        return ConnectionProblem(
            f"Exchange refused the sign-in of {user}: check the account name and password, and that "
            f"{settings.auth_type.upper()} authentication is enabled on the EWS virtual directory."
        )
    if isinstance(error, ews_errors.ErrorImpersonateUserDenied):
        return ConnectionProblem(
            f"The service account {user} cannot impersonate {mailbox}: grant it the ApplicationImpersonation "
            f"role (New-ManagementRoleAssignment -Role ApplicationImpersonation -User {user})."
        )
    if isinstance(error, ews_errors.ErrorNonExistentMailbox):
        return ConnectionProblem(
            f"Exchange has no mailbox for {mailbox}: check the technician's e-mail address (the primary SMTP "
            "address of the mailbox)."
        )
    if isinstance(error, ews_errors.ErrorAccessDenied) and item and write:
        return EntryRefused(
            f"Exchange would not take the helpdesk's change to this entry in {mailbox}'s calendar (ErrorAccessDenied: "
            f"{error}): the entry stays as it is in Outlook and the helpdesk keeps its own version.",
            write=True,
        )
    if isinstance(error, ews_errors.ErrorAccessDenied) and item:
        return EntryRefused(
            f"Exchange refused to show this entry of {mailbox}'s calendar (ErrorAccessDenied: {error}).", write=False
        )
    if isinstance(error, ews_errors.ErrorAccessDenied):
        return ConnectionProblem(
            f"{user} may not open the calendar of {mailbox}: give it Editor rights on that calendar "
            "(Add-MailboxFolderPermission), or switch the connection to impersonation and grant the "
            "ApplicationImpersonation role."
        )
    if isinstance(error, ews_errors.ErrorInvalidServerVersion | ews_errors.ErrorInvalidSchemaVersionForMailboxVersion):
        return ConnectionProblem(
            f"The server does not accept Exchange version {settings.version}: choose the version the server runs."
        )
    if isinstance(error, ews_errors.ErrorServerBusy):
        # back_off is the server's own wait (BackOffMilliseconds, or Retry-After through
        # FailFastKeepingRetryAfter); 0 or None when it named none (RETRY_WAIT is 0 on our protocol).
        wait = error.back_off or None
        asks = f"; it asks for a pause of {wait:g} s" if wait else ""
        return TransientError(f"Exchange is busy ({error}){asks}.", retry_after=wait)
    if isinstance(
        error,
        ews_errors.ErrorTimeoutExpired
        | ews_errors.ErrorInternalServerTransientError
        | ews_errors.ErrorInternalServerError
        | ews_errors.ErrorTooManyObjectsOpened
        | ews_errors.RateLimitError
        | ews_errors.CASError
        | ews_errors.MalformedResponseError
        | requests.RequestException,
    ):
        return TransientError(f"Exchange did not answer properly: {error}")
    if isinstance(error, ews_errors.ErrorInvalidSyncStateData):
        return SyncTokenExpired(f"Exchange refused the sync state of {mailbox}: a full resync is needed.")
    if isinstance(error, ews_errors.ErrorIrresolvableConflict | ews_errors.ErrorInvalidChangeKey):
        return VersionConflict(f"The entry changed in {mailbox}'s calendar since we last read it.")
    if isinstance(error, ews_errors.ErrorItemNotFound):
        return RemoteNotFound(f"The entry is no longer in {mailbox}'s calendar.")
    if isinstance(error, ews_errors.ErrorFolderNotFound):
        return ConnectionProblem(f"{mailbox} has no calendar folder Exchange will show us.")
    if isinstance(error, ews_errors.ResponseMessageError):
        return ProviderError(f"Exchange refused the request ({type(error).__name__}): {error}")
    if isinstance(error, ews_errors.TransportError | ews_errors.RedirectError):
        return ConnectionProblem(
            f"Cannot reach Exchange at {settings.server_url or 'the autodiscovered server'}: {error}"
        )
    return ProviderError(f"Exchange answered {type(error).__name__}: {error}")

"""exchangelib's errors in our terms (base.py's ProviderError family), with the message a person needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from exchangelib import errors as ews_errors

from ..base import (
    ConnectionProblem,
    ProviderError,
    RemoteNotFound,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
)

if TYPE_CHECKING:
    from .client import ExchangeSettings


def translate(error: Exception, settings: ExchangeSettings, mailbox: str) -> ProviderError:
    """Our error for an exchangelib or requests error raised while working on mailbox's calendar."""
    user = settings.username
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
        # exchangelib fills in its own wait when the server named none; only BackOffMilliseconds counts.
        own_wait = str(error).startswith(("Reraised from", "Caused by"))
        return TransientError(f"Exchange is busy: {error}", retry_after=None if own_wait else error.back_off)
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

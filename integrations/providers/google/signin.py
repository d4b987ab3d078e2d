"""A technician's own Google sign-in: OAuth 2.0 for web server applications (authorization code
with offline access), RFC 6749 section 4.1 and Google's "Using OAuth 2.0 for Web Server
Applications". Building the consent address is pure; exchanging the code is the one outbound call,
run by a worker, never in the web request."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from oauthlib.oauth2 import WebApplicationClient

from ..base import ConnectionProblem, TransientError
from .errors import CALENDAR_SCOPE

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636 section 4.1: 43-128 unreserved characters, high entropy), kept
    by the helpdesk with the sign-in's state and sent only with the code exchange."""
    return WebApplicationClient("").create_code_verifier(64)


def consent_address(
    *, auth_uri: str, client_id: str, redirect_uri: str, state: str, code_verifier: str, login_hint: str = ""
) -> str:
    """Where the browser goes to let the helpdesk at the technician's calendar: offline access (a
    refresh token) for the calendar scope, the consent screen always shown so Google issues a
    refresh token even to someone who allowed it before, and PKCE's S256 challenge of
    `code_verifier` (RFC 7636 section 4.2-4.3; RFC 9700 section 2.1.1 asks it of web servers too)."""
    challenge = WebApplicationClient(client_id).create_code_challenge(code_verifier, "S256")
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": CALENDAR_SCOPE,
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        query["login_hint"] = login_hint
    return f"{auth_uri}?{urlencode(query)}"


def exchange_code(
    *,
    token_uri: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str = "",
    timeout: float = 30,
) -> str:
    """The refresh token for an authorization code (RFC 6749 section 4.1.3), with the PKCE
    `code_verifier` the consent address was made from (RFC 7636 section 4.5; empty for a sign-in
    started before PKCE). Raises ConnectionProblem when Google refuses (a used or expired code, a
    wrong verifier or client secret, no refresh token given) and TransientError when it cannot be
    reached."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    try:
        with requests.Session() as session:
            session.trust_env = False  # the token endpoint is a setting of the connection, not the environment's
            answer = session.post(token_uri, data=form, timeout=timeout)
    except requests.RequestException as error:
        raise TransientError(f"Google's sign-in service did not answer: {error}") from error
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):  # RFC 6749 section 5.1/5.2: the answer is a JSON object, or it is not Google's
        body = {}
    if answer.status_code >= 500:
        raise TransientError(f"Google's sign-in service had a passing fault (HTTP {answer.status_code}).")
    if answer.status_code != 200:
        error = body.get("error", f"HTTP {answer.status_code}")
        if error == "invalid_client":
            raise ConnectionProblem(
                "Google refused the helpdesk's OAuth client: an administrator must check its client id and secret."
            )
        raise ConnectionProblem(f'Google refused the sign-in ({error}): start again from "Connect my Google calendar".')
    token = body.get("refresh_token")
    if not token:
        raise ConnectionProblem(
            "Google gave no lasting access (no refresh token): start again and allow offline access."
        )
    return str(token)

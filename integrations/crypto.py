"""Secrets at rest: Fernet with a key from the environment.

CREDENTIALS_KEY holds a Fernet key (`Fernet.generate_key()`). When it is unset, a key is derived
from SECRET_KEY so development works out of the box; production must set its own key, since a
changed SECRET_KEY would otherwise make the stored secrets unreadable.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key."""


def _fernet() -> Fernet:
    key = getattr(settings, "CREDENTIALS_KEY", "") or ""
    if not key:
        digest = hashlib.sha256(("helpdesk-credentials:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "The stored secret cannot be decrypted: CREDENTIALS_KEY changed. Enter the password again."
        ) from error

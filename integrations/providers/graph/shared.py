"""What the Graph connector's worker processes share: the mailbox's request slots and msal's token cache.

Graph lets an app have at most 4 requests in flight per mailbox ("Microsoft Graph throttling
limits", Outlook service limits); every Celery worker process of the helpdesk counts towards them.
With a cache every process reaches (Redis when REDIS_URL is set, or Django's database cache), the
slots are cache keys taken with an atomic add (Redis SET NX) under a lease, so the limit holds
across processes and a killed worker's slot comes free when its lease runs out. Without one (the
per-process local-memory cache), a per-process semaphore keeps the limit within each process.

msal's token cache (SerializableTokenCache) is kept in the same shared cache, Fernet-encrypted
with the credentials key (integrations.crypto), so N workers sign in once between them rather
than once each; one process fetches while the others wait for its token.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Iterator

import msal
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from ...crypto import SecretUnreadable, decrypt, encrypt
from .. import base

logger = logging.getLogger(__name__)

POLL = 0.02  # seconds between looks for a free slot or for another process's token (with jitter)
# An access token this close to its expiry (seconds) is not taken from the shared cache: msal
# itself renews tokens within 5 minutes of expiry.
TOKEN_MARGIN = 300

_semaphores: dict[str, threading.BoundedSemaphore] = {}
_lock = threading.Lock()


def shared() -> bool:
    """True when the default cache reaches other processes (Redis, database, memcached)."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def _local_slot(mailbox: str, limit: int) -> threading.BoundedSemaphore:
    with _lock:
        return _semaphores.setdefault(f"{limit}:{mailbox.lower()}", threading.BoundedSemaphore(limit))


def _pause() -> None:
    time.sleep(POLL * (0.5 + random.random()))  # jitter: waiting processes do not poll in step


def _take_local(mailbox: str, limit: int, count: int, wait: float) -> threading.BoundedSemaphore:
    """`count` of the process's `limit` slots for the mailbox, all or none at a time (two batches
    holding half each would wait on each other); TransientError after `wait` seconds."""
    semaphore = _local_slot(mailbox, limit)
    deadline = time.monotonic() + wait
    while True:
        taken = 0
        while taken < count and semaphore.acquire(timeout=0 if taken else min(POLL, wait)):
            taken += 1
        if taken == count:
            return semaphore
        for _ in range(taken):
            semaphore.release()
        if time.monotonic() >= deadline:
            raise base.TransientError(f"{mailbox} already has {limit} requests to Microsoft 365 in flight.")
        _pause()


@contextlib.contextmanager
def mailbox_slot(mailbox: str, *, limit: int, lease: float, wait: float, count: int = 1) -> Iterator[None]:
    """Hold `count` (1 to `limit`) of the mailbox's `limit` request slots while the block runs.

    A $batch takes one slot for each of its items that run at once (those without dependsOn: Graph
    "JSON batching"), since each counts against the mailbox's limit. The slots are taken all or
    none at a time, so batches waiting for slots never hold some and wait on each other.

    `lease` (seconds) bounds how long a slot stays taken if its holder dies; it must outlast the
    longest request. `wait` (seconds): how long to wait for free slots before raising
    base.TransientError (the caller's retry policy tries again later)."""
    count = max(1, min(count, limit))
    if not shared():
        semaphore = _take_local(mailbox, limit, count, wait)
        try:
            yield
        finally:
            for _ in range(count):
                semaphore.release()
        return
    cache = caches["default"]
    holder = uuid.uuid4().hex
    prefix = f"graph:slot:{hashlib.sha256(mailbox.lower().encode()).hexdigest()[:32]}"
    deadline = time.monotonic() + wait
    keys: list[str] = []
    while True:
        for index in random.sample(range(limit), limit):
            if len(keys) < count and cache.add(f"{prefix}:{index}", holder, timeout=math.ceil(lease)):
                keys.append(f"{prefix}:{index}")
        if len(keys) == count:
            break
        _release(keys, holder)
        keys = []
        if time.monotonic() >= deadline:
            raise base.TransientError(
                f"{mailbox} already has {limit} requests to Microsoft 365 in flight from other workers."
            )
        _pause()
    try:
        yield
    finally:
        _release(keys, holder)


def _release(keys: list[str], holder: str) -> None:
    # Only our own slots: if our lease ran out and another worker took a key, it stays theirs.
    cache = caches["default"]
    for key in keys:
        if cache.get(key) == holder:
            cache.delete(key)


def _live(token_cache: msal.SerializableTokenCache, scope: str) -> bool:
    now = time.time()
    for entry in token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[scope]):
        if int(entry.get("expires_on", 0)) - now > TOKEN_MARGIN:
            return True
    return False


def _load(token_cache: msal.SerializableTokenCache, key: str) -> None:
    stored = caches["default"].get(key)
    if not stored:
        return
    try:
        token_cache.deserialize(decrypt(stored))
    except (SecretUnreadable, ValueError):
        logger.warning("The shared Microsoft 365 token cache is unreadable (key changed?); signing in anew")
        caches["default"].delete(key)


@contextlib.contextmanager
def shared_tokens(token_cache: msal.SerializableTokenCache, key: str, scope: str, *, wait: float) -> Iterator[None]:
    """Run an msal token call (the block) with `token_cache` filled from the shared cache first and
    stored back (encrypted) when msal changed it. When no process holds a live token, one process
    fetches it while the others wait up to `wait` seconds for it (then fetch their own)."""
    if not shared() or _live(token_cache, scope):
        yield
        return
    key = f"graph:tokens:{key}"
    _load(token_cache, key)
    fetching = False
    if not _live(token_cache, scope):
        fetching = caches["default"].add(f"{key}:fetching", 1, timeout=math.ceil(wait) + 1)
        if fetching:
            # Another process may have stored its token and dropped the flag between our first look
            # and our add: look again, or two processes sign in (CI on 04fa8c6 saw 2 token requests).
            _load(token_cache, key)
        deadline = time.monotonic() + wait
        while not fetching and not _live(token_cache, scope) and time.monotonic() < deadline:
            _pause()
            _load(token_cache, key)
    try:
        yield
        if token_cache.has_state_changed:
            caches["default"].set(key, encrypt(token_cache.serialize()), timeout=86_400)
            token_cache.has_state_changed = False
    finally:
        if fetching:
            caches["default"].delete(f"{key}:fetching")


def forget_tokens(key: str) -> None:
    """Drop the shared tokens (Graph refused one: consent revoked, secret rolled), so no process
    takes them again."""
    if shared():
        caches["default"].delete(f"graph:tokens:{key}")

"""The embedded Celery broker of `make run`: kombu's filesystem transport, with every message made
visible only when whole and a message file that cannot be read set aside instead of stopping the worker.

Why (trial F2): kombu 5.7's `filesystem.Channel._put` creates `<ms>_<uuid>.<queue>.msg` in the queue
folder, then locks and writes it; `_get` lists the folder, moves the file away and reads it without
taking the lock. A worker polling between the create and the write reads 0 bytes (or part of the
JSON), `json.loads` raises, and Celery stops the worker with "Unrecoverable error: JSONDecodeError"
(celery/kombu#1551, still open upstream; kombu 5.7.0 is the newest release). Here:

- `_put` writes the message under a hidden temporary name in the same folder (a name no
  `*.<queue>.msg` listing matches), then `os.replace`s it to its message name. A rename within one
  file system is atomic (POSIX rename(2)), so a reader finds no file or the whole message.
- `_get` claims a file by renaming it (of two readers, one wins), reads it and checks that it is a
  kombu message. A file that cannot be opened or is not one (written by another program, cut short
  by a crash or a full disk) is moved to `unreadable_folder`, logged with its path and the reason, and the worker goes
  on with the next message: nothing is deleted, nothing is fatal.
- A claimed message stays on disk until it is acknowledged (review 7 F3): `_get` moves it into a
  folder of the reading process (`unacked/<pid>-<token>/` in the queue folder, a name no listing
  matches); an ack or reject removes it (or moves it to `processed_folder`), and a message kombu
  restores (a clean close, a reject with requeue) is put back by kombu and its claim removed. A
  worker killed with messages in hand (SIGKILL, out of memory) leaves its folder behind; the
  next channel opened by any process (the restarted worker's) puts those files back in the queue
  when that process is gone, so a task is delivered again (at least once, as Celery's
  `acks_late` + `reject_on_worker_lost` ask), not lost. Kombu's own transport deletes the file
  when it is read, and its virtual QoS keeps unacknowledged messages only in memory.
- `_queue_bind` has the same create-then-lock gap for an exchange's table file (control folder):
  a new table appears whole too (hard link of a written file).

Folders, file names and JSON are kombu's, so messages queued by kombu's own transport are read here
and the other way round. Selected by the settings (a CELERY_BROKER_URL `filesystem://...`, the
default, becomes `helpdesk-filesystem://...`); `register()` makes that scheme known to kombu and runs
where the Celery app is loaded (helpdesk/celery.py), before any connection is made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger(__name__)

#: The URL scheme of this transport (a kombu transport alias: no "." or ":" allowed in it).
SCHEME = "helpdesk-filesystem"

# Suffix of the hidden name a message file has while it is written; it does not end in ".msg", so
# kombu's listing (`name.partition(".")[2] == f"{queue}.msg"`) never matches it.
_WRITING = ".writing"


def register() -> None:
    """Make `helpdesk-filesystem://` a kombu transport URL (idempotent)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


# The folder (under the queue folder) of messages read and not yet acknowledged, one folder per
# reading process. No "." in it, so no listing of messages matches it.
_UNACKED = "unacked"
# Per process (a pid can come again after a restart, in a container often): `_owner()`.
_tokens: dict[int, str] = {}


def _owner() -> str:
    """This process's claim folder name, "<pid>-<token>" (the token new in every process, a forked
    child included)."""
    pid = os.getpid()
    token = _tokens.get(pid) or _tokens.setdefault(pid, uuid.uuid4().hex[:12])
    return f"{pid}-{token}"


def _gone(owner: str) -> bool:
    """Whether the process that named a claim folder `owner` has ended: its pid runs no process,
    or it is this process's pid under another token (an earlier process with the same pid). A pid
    taken since by an unrelated process reads as alive: its claims wait until that one ends."""
    pid_text, _, _ = owner.partition("-")
    if not pid_text.isascii() or not pid_text.isdigit():
        return False  # not a folder this module made
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != _owner()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's (PermissionError)
    return False


def _problem(payload: bytes) -> str | None:
    """Why `payload` is not a message kombu's virtual transport can deliver, or None when it is."""
    if not payload:
        return "the file is empty"
    try:
        message = loads(bytes_to_str(payload))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return f"not JSON ({exc})"
    properties = message.get("properties") if isinstance(message, dict) else None
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return "JSON, but not a kombu message (no properties.delivery_tag)"
    return None


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic writes, a reader that survives a bad file, and
    messages kept on disk until acknowledged (re-queued when their reader died)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._claims: dict[str, str] = {}  # delivery tag -> the claimed file of a message in hand
        self._requeue_claims_of_ended_readers()

    def _requeue_claims_of_ended_readers(self) -> None:
        """Put back in the queue folder the messages that readers which have ended held unacked
        (their claim folders), and remove those folders. Of two processes doing this at once, each
        file goes back once (rename(2)); a file whose rename fails stays for the next channel."""
        root = os.path.join(self.data_folder_in, _UNACKED)
        try:
            owners = os.listdir(root)
        except OSError:
            return  # no claims ever made here
        for owner in owners:
            if not _gone(owner):
                continue
            folder = os.path.join(root, owner)
            with contextlib.suppress(OSError):
                names = os.listdir(folder)
                for name in names:
                    with contextlib.suppress(OSError):
                        os.rename(os.path.join(folder, name), os.path.join(self.data_folder_in, name))
                if names:
                    logger.warning(
                        "Broker: %d message(s) read but not acknowledged by ended process %s put back in the queue",
                        len(names),
                        owner,
                    )
                os.rmdir(folder)

    def _release(self, delivery_tag) -> None:
        """The message is acknowledged, rejected or put back by kombu: its claimed file goes."""
        claimed = self._claims.pop(delivery_tag, None)
        if claimed is not None:
            self._done_with(claimed, os.path.basename(claimed))

    def _get_and_deliver(self, queue, callback):
        """As kombu's; a message its consumer takes without acknowledging (no_ack) is released."""
        message = self._get(queue)
        tag = message["properties"]["delivery_tag"]
        try:
            callback(message, queue)
        finally:
            if tag not in self.qos._delivered:
                self._release(tag)

    def basic_get(self, queue, no_ack=False, **kwargs):
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._release(message.delivery_tag)
        return message

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        self._release(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue: kombu puts a copy back
        self._release(delivery_tag)

    def _restore(self, message):
        super()._restore(message)  # a copy put back in the queue (redelivered)
        self._release(message.delivery_tag)

    def _put(self, queue, payload, **kwargs):
        """Write `payload` (a kombu message dict) as one file in the queue folder, visible only whole.
        Raises ChannelError when the folder cannot be written (kombu's own answer)."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{name}{_WRITING}")
        text = str_to_bytes(dumps(payload))
        try:
            with open(temporary, "xb") as file:
                file.write(text)
            os.replace(temporary, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc
        finally:
            with contextlib.suppress(OSError):
                os.remove(temporary)  # gone after os.replace; a failed write's leftover otherwise

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Bind `queue` in the exchange's table file (control folder). A new table file is written
        under a hidden name and hard-linked into place, so it appears whole: kombu creates it, then
        locks and writes, and a reader (`get_table`, shared lock) opening it in between reads an
        empty table and raises JSONDecodeError; of two processes creating it at once, kombu keeps
        only one's binding. os.link fails on an existing name (POSIX link()), so then, or where the
        file system has no hard links, kombu's locked read-modify-write of the existing file runs.
        Raises ChannelError when the folder cannot be written (kombu's own answer)."""
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(exist_ok=True)
            entry = [filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")]
            temporary = file.with_name(f".{file.name}.{uuid.uuid4()}{_WRITING}")
            try:
                temporary.write_bytes(str_to_bytes(dumps(entry)))
                os.link(temporary, file)
                return
            except FileExistsError:
                pass  # another process made the table first: add to it below
            except PermissionError:
                pass  # no hard links on this file system: kombu's way below
            except OSError as exc:
                raise ChannelError(f"Cannot open {file}") from exc
            finally:
                with contextlib.suppress(OSError):
                    temporary.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)

    def _get(self, queue):
        """The oldest message of `queue` (a dict), or raises queue.Empty. A file that cannot be opened
        or is not a kombu message is moved to `unreadable_folder` and logged, and the next one is tried."""
        wanted = f"{queue}.msg"
        claims = os.path.join(self.data_folder_in, _UNACKED, _owner())
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(claims, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                if not os.path.isdir(claims):  # the first claim of this process: make its folder
                    os.makedirs(claims, exist_ok=True)
                    with contextlib.suppress(OSError):
                        os.rename(os.path.join(self.data_folder_in, name), claimed)
                if not os.path.lexists(claimed):
                    continue  # another reader took it first
            except OSError:  # another reader took it first
                continue
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
            except OSError as exc:
                # Claimed where no listing sees it: left there it would never be read, unsaid.
                self._set_aside(claimed, name, f"it cannot be opened: {exc.strerror or exc}")
                continue
            problem = _problem(payload)
            if problem:
                self._set_aside(claimed, name, problem)
                continue
            message = loads(bytes_to_str(payload))
            # Kept until acknowledged: `_release` (ack, reject, restore) or, if this process dies, a
            # later channel's `_requeue_claims_of_ended_readers`.
            self._claims[message["properties"]["delivery_tag"]] = claimed
            return message
        raise Empty()

    def _set_aside(self, claimed: str, name: str, problem: str) -> None:
        """Keep an unreadable message file for a person to look at, and say where and why."""
        folder = self.unreadable_folder
        try:
            os.makedirs(folder, exist_ok=True)
            kept = shutil.move(claimed, os.path.join(folder, name))
        except OSError:
            logger.exception(
                "Broker message %s cannot be read (%s) nor moved aside; left at %s", name, problem, claimed
            )
            return
        logger.error("Broker message %s cannot be read (%s): skipped, the file is kept at %s", name, problem, kept)

    def _done_with(self, claimed: str, name: str) -> None:
        """An acknowledged message's file: kept in processed_folder (store_processed) or removed."""
        try:
            if self.store_processed:
                os.makedirs(self.processed_folder, exist_ok=True)
                shutil.move(claimed, os.path.join(self.processed_folder, name))
            else:
                os.remove(claimed)
        except OSError:
            # The message is delivered; a leftover hidden file is never read again.
            logger.warning("Broker message file %s could not be cleared away", claimed, exc_info=True)

    @cached_property
    def unreadable_folder(self) -> str:
        """Where unreadable message files are kept (transport option `unreadable_folder`; default a
        folder `unreadable` in the queue folder)."""
        default = os.path.join(self.data_folder_in, "unreadable")
        return self.transport_options.get("unreadable_folder", default)


class Transport(filesystem.Transport):
    """kombu's filesystem transport with the Channel above (same folders, names and message format)."""

    Channel = Channel

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

# Suffixes of the hidden names a message file has while it is written and while it is read; neither
# ends in ".msg", so kombu's listing (`name.partition(".")[2] == f"{queue}.msg"`) never matches them.
_WRITING = ".writing"
_READING = ".reading"


def register() -> None:
    """Make `helpdesk-filesystem://` a kombu transport URL (idempotent)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


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
    """kombu's filesystem channel with atomic writes and a reader that survives a bad file."""

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
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.data_folder_in, f".{name}{_READING}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:  # another reader took it first
                continue
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
            except OSError as exc:
                # Claimed under a hidden name no listing matches: left there it would be lost unsaid.
                self._set_aside(claimed, name, f"it cannot be opened: {exc.strerror or exc}")
                continue
            problem = _problem(payload)
            if problem:
                self._set_aside(claimed, name, problem)
                continue
            self._done_with(claimed, name)
            return loads(bytes_to_str(payload))
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
        """A delivered message's file: kept in processed_folder (store_processed) or removed."""
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

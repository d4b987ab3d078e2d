"""A real Radicale CalDAV server on 127.0.0.1, port chosen by the OS, in a daemon thread.

Radicale is a WSGI application; we serve it with the standard library's threading WSGI server so
the port is known without racing for it. Users live in an htpasswd file (plain passwords), and
any logged-in user may reach every calendar, like a service account on a shared server.

`start_radicale_process` runs the same configuration with Radicale's own server in a process of
its own (`python -m tests.peers.radicale FOLDER`), for benchmarks whose clients must not share a
process, and its GIL, with the server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import radicale
import radicale.config


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Clients that open many connections at once (vdirsyncer) must not find the backlog full.
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@dataclass
class RadicaleServer:
    url: str
    folder: Path
    htpasswd: Path
    _stop: Callable[[], None]
    _server: WSGIServer | None = None  # the in-process server (None for one in its own process)

    def add_user(self, username: str, password: str) -> None:
        with self.htpasswd.open("a") as handle:
            handle.write(f"{username}:{password}\n")

    def write_entries(self, calendar_url: str, entries: dict[str, str]) -> None:
        """Put iCalendar objects ({file name: text}) straight into a calendar's folder, as another
        program editing Radicale's storage would (Radicale reads them, with new etags and a new
        sync token, on the next request): thousands of entries in a moment, without a PUT each."""
        path = urlsplit(calendar_url).path.strip("/")
        folder = self.folder / "collections" / "collection-root" / path
        if not folder.is_dir():
            raise FileNotFoundError(f"No calendar at {calendar_url}")
        for name, text in entries.items():
            (folder / name).write_text(text, encoding="utf-8", newline="")

    def drop_write_right(self, calendar_url: str) -> None:
        """Every account may only read this calendar from now on: Radicale refuses its writes (403)
        and reports DAV:read without DAV:write in its DAV:current-user-privilege-set (RFC 3744 5.4),
        as when its owner shares it read-only. For the in-process server."""
        app = self._server.get_app()
        if not isinstance(app._rights, _ReadOnlyWhere):
            app._rights = _ReadOnlyWhere(app._rights)
        app._rights.paths.add(urlsplit(calendar_url).path.strip("/"))

    def stop(self) -> None:
        self._stop()


class _ReadOnlyWhere:
    """Radicale's rights backend as configured, with the write permissions (w, W) taken away on
    the collections in `paths` (Radicale rights: "r"/"w" on a collection's items, "R"/"W" on it)."""

    def __init__(self, rights) -> None:
        self.rights = rights
        self.paths: set[str] = set()

    def authorization(self, user: str, user_groups: set, path: str) -> str:
        granted = self.rights.authorization(user, user_groups, path)
        if path.strip("/") in self.paths:
            granted = granted.replace("w", "").replace("W", "")
        return granted

    def __getattr__(self, name: str):
        return getattr(self.rights, name)


def _write_users(folder: Path, users: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd = folder / "users"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    return htpasswd


def _configuration(folder: Path) -> radicale.config.Configuration:
    """The test server's configuration: users from FOLDER/users, storage in FOLDER/collections."""
    htpasswd = folder / "users"
    configuration = radicale.config.load(())
    configuration.update(
        {
            "auth": {
                "type": "htpasswd",
                "htpasswd_filename": str(htpasswd),
                "htpasswd_encryption": "plain",
                "delay": "0",
            },
            "rights": {"type": "authenticated"},
            # No fsync per file: a throw-away server, and thousands of entries must load in seconds.
            "storage": {"filesystem_folder": str(folder / "collections"), "_filesystem_fsync": "False"},
            "web": {"type": "none"},
            # Keep what other servers keep: a COUNT of a million (issue 11), which Radicale refuses by default.
            "server": {"max_vevent_rrule_occurrence": "0"},
        },
        "test",
        privileged=True,
    )
    return configuration


def start_radicale(folder: Path, users: dict[str, str]) -> RadicaleServer:
    """Radicale in a daemon thread of this process, on a port the OS chooses."""
    htpasswd = _write_users(folder, users)
    app = radicale.Application(_configuration(folder))
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return RadicaleServer(f"http://{host}:{port}/", folder, htpasswd, stop, server)


def start_radicale_process(folder: Path, users: dict[str, str], *, timeout: float = 30.0) -> RadicaleServer:
    """Radicale's own server (radicale.server.serve, as `python -m radicale` runs it) in a child
    process, on a free loopback port. Returns once the port accepts connections; raises
    RuntimeError when the child exits or does not listen within `timeout` seconds."""
    htpasswd = _write_users(folder, users)
    with socket.socket() as probe:  # a port the OS has free now; the child binds it right after
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.radicale", str(folder), str(port)],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"Radicale exited with {child.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                child.kill()
                raise RuntimeError(f"Radicale did not listen on {port} within {timeout} s") from None
            time.sleep(0.1)

    def stop() -> None:
        child.terminate()  # Radicale shuts down on SIGTERM
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    return RadicaleServer(f"http://127.0.0.1:{port}/", folder, htpasswd, stop)


# The zone as clients send it with each entry (RFC 5545 3.6.5), so no server has to make one up.
AMSTERDAM = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Amsterdam",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:20200329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:20201025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]


def sample_entries(count: int, first_day: date, *, prefix: str = "entry") -> dict[str, str]:
    """`count` entries as another client makes them ({file name: iCalendar text}), a realistic
    mix over the coming months: mostly single appointments with a zone (a few with a reminder),
    every 10th an all-day entry, every 25th a weekly series (one of two with a cancelled and a
    moved occurrence, RFC 5545 EXDATE and RECURRENCE-ID), every 20th private."""
    entries = {}
    zone = "Europe/Amsterdam"
    stamp = "20260101T000000Z"
    for n in range(count):
        uid = f"{prefix}-{n:05d}"
        day = first_day + timedelta(days=n % 180)
        hour = 8 + n % 9
        lines = [f"UID:{uid}", f"DTSTAMP:{stamp}", f"SUMMARY:Visit {n} at customer {n % 37}"]
        if n % 25 == 7:
            start = datetime(day.year, day.month, day.day, hour)
            lines += [
                f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}",
                f"DTEND;TZID={zone}:{start + timedelta(minutes=45):%Y%m%dT%H%M%S}",
                "RRULE:FREQ=WEEKLY;COUNT=20" if n % 2 else "RRULE:FREQ=WEEKLY",
            ]
            children = []
            if n % 2:
                cancelled, moved = start + timedelta(weeks=2), start + timedelta(weeks=3)
                lines.append(f"EXDATE;TZID={zone}:{cancelled:%Y%m%dT%H%M%S}")
                children = [
                    "BEGIN:VEVENT",
                    f"UID:{uid}",
                    f"DTSTAMP:{stamp}",
                    f"RECURRENCE-ID;TZID={zone}:{moved:%Y%m%dT%H%M%S}",
                    f"DTSTART;TZID={zone}:{moved + timedelta(hours=2):%Y%m%dT%H%M%S}",
                    f"DTEND;TZID={zone}:{moved + timedelta(hours=2, minutes=45):%Y%m%dT%H%M%S}",
                    f"SUMMARY:Visit {n} (moved)",
                    "END:VEVENT",
                ]
            body = ["BEGIN:VEVENT", *lines, "END:VEVENT", *children]
        elif n % 10 == 3:
            body = [
                "BEGIN:VEVENT",
                *lines,
                f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                f"DTEND;VALUE=DATE:{day + timedelta(days=1 + n % 3):%Y%m%d}",
                "TRANSP:TRANSPARENT",
                "END:VEVENT",
            ]
        else:
            start = datetime(day.year, day.month, day.day, hour, 15 * (n % 4))
            lines += [
                f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}",
                f"DTEND;TZID={zone}:{start + timedelta(minutes=30 + 30 * (n % 3)):%Y%m%dT%H%M%S}",
                f"DESCRIPTION:Ticket {n}: printer on floor {n % 5}\\, bring toner",
                f"LOCATION:Street {n % 90}",
            ]
            if n % 20 == 11:
                lines.append("CLASS:PRIVATE")
            alarm = ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Visit", "TRIGGER:-PT15M", "END:VALARM"]
            body = ["BEGIN:VEVENT", *lines, *(alarm if n % 4 == 1 else []), "END:VEVENT"]
        zones = AMSTERDAM if "TZID" in "".join(body) else []
        text = "\r\n".join(
            ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Other client//EN", *zones, *body, "END:VCALENDAR", ""]
        )
        entries[f"{uid}.ics"] = text
    return entries


if __name__ == "__main__":  # python -m tests.peers.radicale FOLDER PORT (see start_radicale_process)
    import radicale.log
    import radicale.server

    radicale.log.setup()
    served = _configuration(Path(sys.argv[1]))
    served.update(
        {"server": {"hosts": f"127.0.0.1:{sys.argv[2]}", "max_connections": "32"}, "logging": {"level": "warning"}},
        "bench",
    )
    radicale.log.set_level("warning", False)
    radicale.server.serve(served)

"""A real Radicale CalDAV server on 127.0.0.1, port chosen by the OS, in a daemon thread.

Radicale is a WSGI application; we serve it with the standard library's threading WSGI server so
the port is known without racing for it. Users live in an htpasswd file (plain passwords), and
any logged-in user may reach every calendar, like a service account on a shared server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import radicale
import radicale.config


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@dataclass
class RadicaleServer:
    url: str
    folder: Path
    htpasswd: Path
    _server: WSGIServer
    _thread: threading.Thread

    def add_user(self, username: str, password: str) -> None:
        with self.htpasswd.open("a") as handle:
            handle.write(f"{username}:{password}\n")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_radicale(folder: Path, users: dict[str, str]) -> RadicaleServer:
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd = folder / "users"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
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
            "storage": {"filesystem_folder": str(folder / "collections")},
            "web": {"type": "none"},
            # Keep what other servers keep: a COUNT of a million (issue 11), which Radicale refuses by default.
            "server": {"max_vevent_rrule_occurrence": "0"},
        },
        "test",
        privileged=True,
    )
    app = radicale.Application(configuration)
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return RadicaleServer(f"http://{host}:{port}/", folder, htpasswd, server, thread)

"""An HTTP proxy of our own that sits between a connector and a real server and misbehaves on cue.

Faults (one per request, from a queue of planned faults or drawn at a seeded random rate):
  drop         close the connection without forwarding or answering
  drop_after   forward the request (it takes effect upstream), then close without answering
  500 / 503    answer with that status, forwarding nothing (503 with Retry-After when
               `retry_after_503` is set, as an overloaded server asks to be left alone)
  429          answer 429 Too Many Requests with Retry-After (`retry_after`)
  stall        wait `stall_seconds` (longer than the client's timeout), then close
  stall_after  forward the request, then hang until released (a worker killed mid-push)
  answer_late            forward the request (it takes effect upstream), answer after `late_seconds`
                         (longer than the client's timeout: the client has given up by then)
  busy_with_retry_after  answer 503 Service Unavailable with Retry-After: `retry_after`
`rewrite_answers` swaps bytes in forwarded answers (a server keeping what the real one cleans).
`refuse(path, reads=...)`: the server refuses one calendar object as RFC 3744 section 7.1.1 has it
(403 Forbidden with a DAV:need-privileges error body): its PUT and DELETE, and with `reads` its GET
and its member of a REPORT's multistatus too (a DAV:response with status 403, RFC 4918 section 13).
`before_forward` (method, path) -> None runs in the proxy's thread before a request goes upstream: what
someone else does while the request is in flight (a second helpdesk change during a push).
Every request is kept as (method, path) in `requests` (faulted ones too); `method_counts()` counts them
by method; `reset_counts()` starts afresh.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

FAULTS = ("drop", "drop_after", "500", "503", "429", "stall")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.planned: deque[str] = deque()
        self.rate = 0.0
        self.kinds: tuple[str, ...] = FAULTS
        self.random = random.Random(seed)
        self.stall_seconds = 2.0
        self.retry_after = "0"
        self.retry_after_503: str | None = None
        self.release = threading.Event()
        self.forwarded = threading.Event()
        self.seen: Counter[str] = Counter()
        # (method, path) of every request that reached the proxy, for tests that count round trips.
        self.requests: list[tuple[str, str]] = []
        self.only_methods: set[str] | None = None
        self.late_seconds = 2.0
        # Bytes of forwarded answers to swap ({b"NUL-HERE": b"\x00"}): a server that keeps what the
        # real one behind the proxy would clean (issue 11: NUL bytes in an entry's text).
        self.rewrite_answers: dict[bytes, bytes] = {}
        # Paths of calendar objects refused on their own (`refuse`): path -> "write" or "read".
        self.refused: dict[str, str] = {}
        self.before_forward: Callable[[str, str], None] | None = None
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # A short poll: shutdown() waits for it (0.5 s by default, at every test's teardown).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}/"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def calm(self) -> None:
        with self._lock:
            self.planned.clear()
            self.rate = 0.0

    def refuse(self, path: str, *, reads: bool = False) -> None:
        """Refuse the calendar object at `path` from now on: its writes, and with `reads` reading it too."""
        with self._lock:
            self.refused[unquote(path)] = "read" if reads else "write"

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def method_counts(self) -> Counter[str]:
        """Requests by method since the last `reset_counts()`."""
        with self._lock:
            return Counter(method for method, _path in self.requests)

    @property
    def request_total(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def writes(self) -> int:
        """Requests that can change the server's state, seen since the last `reset_counts()`."""
        return sum(count for method, count in self.method_counts().items() if method in WRITE_METHODS)

    def _next_fault(self, method: str) -> str | None:
        with self._lock:
            if self.only_methods is not None and method not in self.only_methods:
                return None
            if self.planned:
                return self.planned.popleft()
            if self.rate and self.random.random() < self.rate:
                return self.random.choice(self.kinds)
            return None

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY on each connection: the handler writes the headers and the body in two sends, and
            # with Nagle's algorithm the body waited for the client's delayed ACK (40 ms on Linux) - about
            # 44 ms a request instead of 1-2 (StreamRequestHandler.disable_nagle_algorithm).
            disable_nagle_algorithm = True

            def log_message(self, format, *args):
                pass

            def _forward(self, body: bytes):
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if proxy.rewrite_answers or "read" in proxy.refused.values():  # plain answers, to be edited
                    headers = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                return response, data

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                refused = proxy.refused.get(unquote(urlsplit(self.path).path))
                if refused and (self.command in ("PUT", "DELETE") or (refused == "read" and self.command == "GET")):
                    privilege = "read" if self.command == "GET" else "write-content"
                    self._answer(
                        403, [("Content-Type", 'application/xml; charset="utf-8"')], _need(self.path, privilege)
                    )
                    return
                fault = proxy._next_fault(self.command)
                if fault in EXTRA_FAULTS:
                    _serve_extra_fault(proxy, self, fault, body)
                    return
                if fault:
                    proxy.seen[fault] += 1
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault in ("500", "503"):
                    headers = [("Content-Type", "text/plain")]
                    if fault == "503" and proxy.retry_after_503 is not None:
                        headers.append(("Retry-After", proxy.retry_after_503))
                    self._answer(int(fault), headers, b"Internal trouble")
                    return
                if fault == "429":
                    self._answer(429, [("Retry-After", proxy.retry_after)], b"Slow down")
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_seconds)
                    self.close_connection = True
                    return
                if proxy.before_forward is not None:
                    proxy.before_forward(self.command, self.path)
                response, data = self._forward(body)
                if fault == "drop_after":
                    self.close_connection = True
                    return
                if fault == "stall_after":
                    proxy.forwarded.set()
                    proxy.release.wait(60)
                    self.close_connection = True
                    return
                for before, after in proxy.rewrite_answers.items():
                    data = data.replace(before, after)
                if self.command in ("REPORT", "PROPFIND") and response.status == 207:
                    data = _members_refused(data, {p for p, kind in proxy.refused.items() if kind == "read"})
                self._answer(response.status, response.getheaders(), data)

            do_GET = do_PUT = do_DELETE = do_POST = do_HEAD = do_OPTIONS = _handle
            do_PROPFIND = do_PROPPATCH = do_REPORT = do_MKCOL = do_MKCALENDAR = _handle

        return Handler


# --- faults added for the sync state machine (issue 9): a late answer, 503 with Retry-After --------

EXTRA_FAULTS = ("answer_late", "busy_with_retry_after")
WRITE_METHODS = frozenset({"PUT", "DELETE", "POST", "PROPPATCH", "MKCOL", "MKCALENDAR", "MOVE", "COPY"})


def _serve_extra_fault(proxy: FaultProxy, handler, fault: str, body: bytes) -> None:
    proxy.seen[fault] += 1
    if fault == "busy_with_retry_after":
        handler._answer(503, [("Retry-After", proxy.retry_after), ("Content-Type", "text/plain")], b"Busy")
        return
    # answer_late: the server does the work at once; its answer arrives after the client gave up.
    response, data = handler._forward(body)
    time.sleep(proxy.late_seconds)
    handler.close_connection = True
    with contextlib.suppress(OSError):  # the client has closed its end
        handler._answer(response.status, response.getheaders(), data)


def _need(path: str, privilege: str) -> bytes:
    """RFC 3744 section 7.1.1: the body of a 403 for a request the user lacks `privilege` on."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:need-privileges><D:resource>'
        f"<D:href>{escape(path)}</D:href><D:privilege><D:{privilege}/></D:privilege></D:resource>"
        "</D:need-privileges></D:error>"
    ).encode()


def _members_refused(data: bytes, paths: set[str]) -> bytes:
    """A multistatus answer in which each member at one of `paths` is refused: its DAV:response holds
    its href and the status 403 only (RFC 4918 section 13: a status for the whole member)."""
    if not paths:
        return data
    from lxml import etree

    tree = etree.fromstring(data)
    for member in tree.iter("{DAV:}response"):
        href = (member.findtext("{DAV:}href") or "").strip()
        if unquote(urlsplit(href).path) in paths:
            for child in list(member):
                if child.tag != "{DAV:}href":
                    member.remove(child)
            etree.SubElement(member, "{DAV:}status").text = "HTTP/1.1 403 Forbidden"
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")

"""The local protocol peers answer a request on a kept-alive connection in about a millisecond.

Their handlers write an answer's headers and body in two sends. With Nagle's algorithm on, the body
waited for the client's delayed ACK (Linux: TCP_DELACK_MIN, 40 ms; RFC 1122 4.2.3.2 allows up to
500 ms), so every request to the EWS, Google or Graph peer took about 44 ms and one through the fault
proxy about 89 ms: minutes of `make test`. Twenty requests must take well under one such delay each.
"""

import time
from pathlib import Path

import pytest
import requests

from tests.peers.ews import EwsServer
from tests.peers.fault_proxy import FaultProxy
from tests.peers.google import GoogleCalendarServer
from tests.peers.graph import GraphServer

REQUESTS = 20
# 20 requests x 40 ms of delayed ACK is 0.8 s; without it they take about 10-20 ms.
WITHIN_SECONDS = 0.4


def _session(verify: str | bool = True) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies of the machine play no part
    session.verify = verify
    return session


def _timed(call) -> float:
    call()  # the connection is opened (and TLS agreed) before the clock starts
    began = time.perf_counter()
    for _ in range(REQUESTS):
        call()
    return time.perf_counter() - began


def test_the_ews_peer_answers_kept_alive_requests_without_a_delayed_ack_wait():
    with EwsServer(accounts={"svc": "pw"}) as ews:
        session = _session()
        assert _timed(lambda: session.post(ews.url, data=b"<x/>", auth=("svc", "pw"))) < WITHIN_SECONDS


def test_the_google_peer_answers_kept_alive_requests_without_a_delayed_ack_wait():
    google = GoogleCalendarServer().start()
    try:
        session = _session()
        url = f"http://127.0.0.1:{google._httpd.server_address[1]}/calendar/v3/users/me/calendarList"
        assert _timed(lambda: session.get(url)) < WITHIN_SECONDS
    finally:
        google.stop()


def test_the_graph_peer_answers_kept_alive_requests_without_a_delayed_ack_wait():
    with GraphServer(tenant="tenant", clients={"client": "secret"}) as graph:
        session = _session(str(graph.ca_path))
        url = f"{graph.authority}/v2.0/.well-known/openid-configuration"
        assert _timed(lambda: session.get(url)) < WITHIN_SECONDS


@pytest.fixture
def radicale_alone(tmp_path: Path):
    from tests.peers.radicale import start_radicale

    server = start_radicale(tmp_path / "radicale", {"u": "p"})
    yield server
    server.stop()


def test_the_fault_proxy_forwards_kept_alive_requests_without_a_delayed_ack_wait(radicale_alone):
    proxy = FaultProxy(radicale_alone.url)
    try:
        session = _session()
        assert _timed(lambda: session.get(proxy.url, auth=("u", "p"))) < WITHIN_SECONDS
    finally:
        proxy.stop()

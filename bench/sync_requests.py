"""Requests per poll, per connector (issue 9, S4 "polling a calendar in which nothing changed costs
one request").

For CalDAV on a real Radicale, for Exchange on the local EWS server (through the real exchangelib)
and for Microsoft 365 on the local Graph server (through the real msal and requests), one
technician with import on:
- an unchanged poll: a pull after the calendar is in sync;
- the first poll after 100 helpdesk writes (100 appointments created and pushed; the poll then
  reads the server's record of our own writes).
Each beside a reference: what the system's incremental mechanism alone costs for the same poll
(CalDAV: one sync-collection REPORT, RFC 6578, whose answer carries every changed entry's ETag;
Exchange: one SyncFolderItems with IdOnly, MS-OXWSSYNC, whose answer carries every ChangeKey;
Microsoft 365: the calendarView/delta round alone, its pages to the deltaLink), so
a poll that reads back what it already knows shows up as the difference. Requests are counted at
a proxy in front of Radicale and by the EWS server. Uses a throw-away test database on whatever
DATABASE_URL points to (SQLite by default). Prints figures; asserts nothing.

Run: `.venv/bin/python bench/sync_requests.py [writes]`
"""

import logging
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents.models import Agent  # noqa: E402
from calendars import services as calendar_services  # noqa: E402
from integrations import services  # noqa: E402
from integrations.models import AgentCalendar  # noqa: E402
from integrations.providers.caldav import CalDAVProvider  # noqa: E402
from integrations.providers.graph.client import DELTA_PAGE, PREFER  # noqa: E402
from integrations.sync import engine  # noqa: E402
from tests.peers.ews import EwsServer  # noqa: E402
from tests.peers.fault_proxy import FaultProxy  # noqa: E402
from tests.peers.graph import GraphServer, operation_name  # noqa: E402
from tests.peers.radicale import start_radicale  # noqa: E402

ROW = "{:<10} {:<40} {:>9} {:>9}   {}"


def _technician(name: str) -> Agent:
    user = User.objects.create_user(name, email=f"{name}@example.com")
    return Agent.objects.create(user=user, import_external=True)


def _write(agent: Agent, count: int) -> None:
    """`count` new appointments in one transaction; their push is queued on commit (and runs at once:
    Celery is eager here), as after a coordinator's bulk planning."""
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    with transaction.atomic():
        for number in range(count):
            slot = start + timedelta(hours=number)
            calendar_services.create_appointment(
                subject=f"Job {number}", start=slot, end=slot + timedelta(minutes=45), agents=[agent]
            )


def _timed(call, counter_reset, counts) -> tuple[float, Counter]:
    counter_reset()
    began = time.perf_counter()
    call()
    return time.perf_counter() - began, counts()


def _pull(agent: Agent) -> None:
    engine.sync_agent_calendar(AgentCalendar.objects.get(agent=agent), pull=True)


def _show(system: str, label: str, seconds: float, counts: Counter) -> None:
    detail = ", ".join(f"{name} {number}" for name, number in sorted(counts.items()))
    print(ROW.format(system, label, sum(counts.values()), f"{seconds:.3f} s", f"({detail})"))


def _poll_rounds(system: str, agent: Agent, writes: int, reset, counts, reference, alone: str) -> None:
    """The unchanged poll, the writes, the first poll after them and the one after that, each poll
    beside `reference(token)`: the system's incremental mechanism alone from the same token."""
    token = AgentCalendar.objects.get(agent=agent).sync_token
    seconds, seen = _timed(lambda: _pull(agent), reset, counts)
    ref_seconds, ref_counts = reference(token)
    _show(system, "unchanged poll", seconds, seen)
    _show("", f"reference: {alone}", ref_seconds, ref_counts)

    token = AgentCalendar.objects.get(agent=agent).sync_token
    seconds, seen = _timed(lambda: _write(agent, writes), reset, counts)
    _show(system, f"{writes} helpdesk writes, pushed on commit", seconds, seen)
    seconds, seen = _timed(lambda: _pull(agent), reset, counts)
    ref_seconds, ref_counts = reference(token)
    _show(system, f"first poll after {writes} helpdesk writes", seconds, seen)
    _show("", f"reference: {alone}", ref_seconds, ref_counts)
    seconds, seen = _timed(lambda: _pull(agent), reset, counts)
    _show(system, "the poll after that", seconds, seen)


def caldav(writes: int, folder: Path) -> None:
    server = start_radicale(folder, {"helpdesk": "pw"})
    proxy = FaultProxy(server.url)
    try:
        conn = services.add_connection(
            name="Radicale", kind="caldav", url=proxy.url, username="helpdesk", secret="pw",
            options={"calendar_home": "/{user}/"},
        )  # fmt: skip
        agent = _technician("caldav-tech")
        provider = CalDAVProvider(proxy.url, "helpdesk", "pw", calendar_home="/{user}/")
        calendar = provider.make_calendar(agent.mailbox, "work")
        services.connect_agent(agent, connection=conn, calendar="work", import_external=True)
        _pull(agent)
        _pull(agent)
        remote = provider.client.calendar(url=calendar.calendar_id)

        def reference(token: str) -> tuple[float, Counter]:
            return _timed(
                lambda: remote.get_objects_by_sync_token(token, load_objects=False, disable_fallback=True),
                proxy.reset_counts,
                proxy.method_counts,
            )

        token = AgentCalendar.objects.get(agent=agent).sync_token
        seconds, counts = _timed(lambda: _pull(agent), proxy.reset_counts, proxy.method_counts)
        ref_seconds, ref_counts = reference(token)
        _show("CalDAV", "unchanged poll", seconds, counts)
        _show("", "reference: sync-collection REPORT alone", ref_seconds, ref_counts)

        token = AgentCalendar.objects.get(agent=agent).sync_token
        seconds, counts = _timed(lambda: _write(agent, writes), proxy.reset_counts, proxy.method_counts)
        _show("CalDAV", f"{writes} helpdesk writes, pushed on commit", seconds, counts)
        seconds, counts = _timed(lambda: _pull(agent), proxy.reset_counts, proxy.method_counts)
        ref_seconds, ref_counts = reference(token)
        _show("CalDAV", f"first poll after {writes} helpdesk writes", seconds, counts)
        _show("", "reference: sync-collection REPORT alone", ref_seconds, ref_counts)
        seconds, counts = _timed(lambda: _pull(agent), proxy.reset_counts, proxy.method_counts)
        _show("CalDAV", "the poll after that", seconds, counts)
    finally:
        proxy.stop()
        server.stop()


def _connected(name: str, conn, requests, kind) -> tuple:
    """A technician connected to `conn` with imports on, pulled twice (so settled); and the bench's
    counter of the server's requests since the last `reset()`: `requests()` is the server's request
    log, `kind(request)` the name each is counted under."""
    agent = _technician(name)
    services.connect_agent(agent, connection=conn, import_external=True)
    _pull(agent)
    _pull(agent)
    mark = [0]

    def reset() -> None:
        mark[0] = len(requests())

    def counts() -> Counter:
        return Counter(kind(request) for request in requests()[mark[0] :])

    return agent, reset, counts


def exchange(writes: int) -> None:
    account, password, mailbox = "svc-helpdesk@example.com", "secret", "ews-tech@example.com"
    with EwsServer(accounts={account: password}) as ews:
        ews.add_mailbox(mailbox)
        ews.grant_impersonation(account)
        conn = services.add_connection(
            name="Exchange", kind="ews", url=ews.url, username=account, secret=password,
            options={"version": "2016", "auth_type": "basic", "access_type": "impersonation"},
        )  # fmt: skip
        agent, reset, counts = _connected("ews-tech", conn, lambda: ews.requests, lambda request: request)
        provider = services.provider_for(conn)
        folder = provider._folder(provider.find_calendar(mailbox))

        def reference(state: str) -> tuple[float, Counter]:
            # exchangelib's SyncFolderItems with no fields but the id and ChangeKey (IdOnly).
            return _timed(lambda: list(folder.sync_items(sync_state=state, only_fields=[])), reset, counts)

        _poll_rounds("Exchange", agent, writes, reset, counts, reference, "SyncFolderItems (IdOnly) alone")


def microsoft365(writes: int) -> None:
    tenant, client_id = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "5b8e2f1a-6c4d-4e3b-9a7f-1d2c3b4a5e6f"
    secret, mailbox = "bench-secret", "graph-tech@example.com"
    with GraphServer(tenant=tenant, clients={client_id: secret}) as graph:
        graph.add_mailbox(mailbox)
        conn = services.add_connection(
            name="Microsoft 365", kind="graph", url=graph.base_url, username=client_id, secret=secret,
            options={"tenant_id": tenant, "authority": graph.authority, "ca_bundle": str(graph.ca_path)},
        )  # fmt: skip
        agent, reset, counts = _connected(
            "graph-tech", conn, lambda: graph.requests, lambda request: operation_name(request[0], request[1])
        )
        provider = services.provider_for(conn)

        def reference(delta_link: str) -> tuple[float, Counter]:
            def rounds() -> None:
                url = delta_link
                while url:
                    # Pages of the size the connector asks for (Prefer: odata.maxpagesize).
                    _s, _h, data = provider._request("GET", url, mailbox, headers={"Prefer": f"{PREFER}, {DELTA_PAGE}"})
                    url = data.get("@odata.nextLink")

            return _timed(rounds, reset, counts)

        _poll_rounds("M365", agent, writes, reset, counts, reference, "calendarView/delta alone")


def main() -> None:
    logging.disable(logging.WARNING)
    writes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"One technician, import on, {writes} helpdesk writes; servers on loopback, one process")
        print(ROW.format("connector", "poll", "requests", "time", "(by method / operation)"))
        with tempfile.TemporaryDirectory() as folder:
            caldav(writes, Path(folder))
        exchange(writes)
        microsoft365(writes)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()

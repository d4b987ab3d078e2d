"""Limits the Graph connector's worker processes share (issue 12): at most 4 requests in flight per
mailbox across every process (Graph's Outlook concurrency limit), and one app token for all of them
from msal's token cache, kept encrypted in the shared cache. Real forked processes, the real msal and
requests, against the local Graph server, which counts what is in flight per mailbox."""

import os
import threading
import traceback
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches

from integrations.crypto import decrypt
from integrations.providers.graph import client as graph_client
from integrations.providers.graph.client import graph_provider_from_settings

from .conftest import ALICE, CLIENT_ID, SECRET, TENANT

WORKERS = 3
THREADS = 4  # each worker process runs as many requests at once as Graph allows one client


@pytest.fixture
def redis_cache(settings):
    """The default cache on the Redis that REDIS_URL names, as in production (CI sets it)."""
    url = settings.REDIS_URL
    if not url:
        pytest.skip("REDIS_URL is not set: limits shared across processes need Redis (CI sets it).")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-graph-{uuid.uuid4().hex}",  # nothing left from another run
        }
    }
    return caches["default"]


@pytest.fixture
def local_cache(settings):
    """No Redis: the per-process local-memory cache, as in development."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return caches["default"]


@pytest.fixture
def provider(graph):
    graph_client._apps.clear()  # no token from another test
    return new_provider(graph)


def new_provider(graph):
    """A provider with its own HTTP session (a forked worker must not write to its parent's TLS sockets)."""
    return graph_provider_from_settings(
        {
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "secret": SECRET,
            "authority": graph.authority,
            "base_url": graph.base_url,
            "ca_bundle": str(graph.ca_path),
            "timeout": 10,
        }
    )


def run_in_workers(job, workers: int = WORKERS, *, jobs: list | None = None) -> list[int]:
    """job() in `workers` forked processes at once (or each of `jobs` in one), each starting without a
    token; their exit codes."""
    pids = []
    for number in range(len(jobs) if jobs else workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                graph_client._apps.clear()
                (jobs[number] if jobs else job)()
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def busy_worker(provider):
    """Four threads, each opening alice's calendar three times."""

    def job():
        errors = []

        def read():
            try:
                for _ in range(3):
                    provider.find_calendar(ALICE)
            except Exception as error:  # a 429 from the server would land here
                errors.append(error)

        threads = [threading.Thread(target=read) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors

    return job


def test_never_more_than_4_requests_in_flight_per_mailbox_across_worker_processes(redis_cache, graph, provider):
    graph.delay = 0.1

    codes = run_in_workers(busy_worker(provider))

    assert codes == [0] * WORKERS
    assert graph.max_in_flight[ALICE] == 4  # reached, never passed
    assert len([r for r in graph.graph_requests() if r[2] == ALICE]) == WORKERS * THREADS * 3


def test_a_per_process_limit_alone_lets_worker_processes_pass_4_in_flight(local_cache, graph, provider):
    """Why the limit is shared: without a shared cache each process keeps only its own 4."""
    graph.delay = 0.1

    run_in_workers(busy_worker(provider))

    assert graph.max_in_flight[ALICE] > 4


def test_a_batch_in_one_process_and_single_requests_in_others_stay_within_4_in_flight(redis_cache, graph, provider):
    """A $batch's items without dependsOn run at once on Graph's side, each one of the mailbox's 4:
    the batch holds that many of the shared slots, not one."""
    graph.delay = 0.1
    events = [
        graph.outlook_add(ALICE, graph_time_of(n), graph_time_of(n) + timedelta(hours=1), f"Entry {n}")
        for n in range(8)
    ]
    reads = [("GET", f"/users/{ALICE}/events/{event['id']}", None, {}) for event in events]

    def batch():
        assert [status for status, _h, _b in provider._batch(ALICE, reads)] == [200] * 8

    codes = run_in_workers(None, jobs=[batch, busy_worker(provider), batch, busy_worker(provider)])

    assert codes == [0] * 4
    assert graph.max_in_flight[ALICE] <= 4


def graph_time_of(hours: int) -> datetime:
    return datetime(2030, 1, 7, 9, tzinfo=UTC) + timedelta(hours=hours)


def _token_requests(graph) -> int:
    return len([r for r in graph.requests if r[1].endswith("/oauth2/v2.0/token")])


def test_worker_processes_share_one_app_token(redis_cache, graph, provider):
    codes = run_in_workers(lambda: provider.test_connection(ALICE), workers=4)

    assert codes == [0] * 4
    assert _token_requests(graph) == 1
    assert len([r for r in graph.graph_requests() if r[2] == ALICE]) == 4


def test_a_token_another_worker_stored_just_before_this_one_takes_the_flag_is_used(
    redis_cache, graph, provider, monkeypatch
):
    """The interleaving CI met on 04fa8c6 (2 token requests from 4 workers): another worker signs
    in, stores its token and drops its "fetching" flag between this process's first look at the
    shared cache and its own add of the flag. This process then holds the flag, and must look again
    rather than sign in a second time."""
    add = redis_cache.add

    def add_once_another_worker_has_signed_in(key, *args, **kwargs):
        if key.endswith(":fetching"):
            monkeypatch.setattr(redis_cache, "add", add)
            assert run_in_workers(lambda: new_provider(graph).test_connection(ALICE), workers=1) == [0]
        return add(key, *args, **kwargs)

    monkeypatch.setattr(redis_cache, "add", add_once_another_worker_has_signed_in)

    provider.test_connection(ALICE)

    assert _token_requests(graph) == 1


def test_the_shared_token_cache_is_encrypted(redis_cache, graph, provider):
    provider.test_connection(ALICE)

    stored = redis_cache.get(f"graph:tokens:{provider._tokens_key}")

    assert stored and not any(token in stored for token in graph.tokens)
    assert any(token in decrypt(stored) for token in graph.tokens)  # Fernet with the credentials key


def test_a_token_graph_refuses_is_dropped_from_the_shared_cache(redis_cache, graph, provider):
    provider.test_connection(ALICE)
    graph.tokens.clear()  # the tenant revoked consent or the secret was rolled: old tokens are refused

    provider.test_connection(ALICE)  # signs in anew once, and does not take the old token again

    assert _token_requests(graph) == 2
    stored = decrypt(redis_cache.get(f"graph:tokens:{provider._tokens_key}"))
    assert any(token in stored for token in graph.tokens)


def test_without_redis_each_process_keeps_its_own_token(local_cache, graph, provider):
    codes = run_in_workers(lambda: provider.test_connection(ALICE), workers=2)

    assert codes == [0, 0]
    assert _token_requests(graph) == 2

"""Import at the speed of vdirsyncer (issue 14): the helpdesk's `manage.py sync_calendars` against
vdirsyncer 0.21's first sync, on the same Radicale calendar, alternately, several rounds.

For each size (default 500, 2,000 and 5,000 entries of `tests.peers.radicale.sample_entries`:
singles, all-day entries, private ones, weekly series with a cancelled and a moved occurrence) it
prints, per side, the median wall time of the whole process, its peak RSS (its own: see
`timed`) and its CPU time, and the ratio of medians (helpdesk / vdirsyncer), for:

- the first sync: the helpdesk imports into a fresh database (a copy of one migrated with the
  technician's calendar connected); vdirsyncer syncs to a fresh filesystem storage;
- the second sync, nothing changed: the helpdesk polls again (with the sync token it kept);
  vdirsyncer syncs again.

It also counts the SQL statements of the import and of the unchanged poll, in-process
(`connection.execute_wrapper` around `call_command("sync_calendars")`), so "SQL grows by at most
1 per 50 events" and "the same count at 500 and 5,000" can be read off.

Both sides run as installed: the helpdesk with DEBUG off, as a worker runs in production, and its
modules byte-compiled once beforehand (pip compiled vdirsyncer's when it installed it).

vdirsyncer is installed from PyPI into its own virtual environment (created when missing, at
--vdirsyncer-venv). Radicale runs on loopback in a process of its own (Radicale's own server, see
`tests.peers.radicale.start_radicale_process`), so neither client shares a GIL with it and the
bench's own work does not slow it; it reads new files once, slowly, so each calendar is read once
before anything is timed. The timed processes write to files (an unread pipe blocked vdirsyncer's
2,000-entry sync for ever: it prints a line per item). Uses SQLite files in a temporary folder
(or DATABASE_URL's server when --database-url is given). Prints figures; asserts nothing.

Run: `.venv/bin/python bench/import_vs_vdirsyncer.py [--sizes 500,2000,5000] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VDIRSYNCER = "vdirsyncer==0.21.0"
USER, PASSWORD = "tech", "tech-pw"


def ensure_vdirsyncer(venv: Path) -> Path:
    """vdirsyncer's command in its own virtual environment, installed there from PyPI if missing."""
    command = venv / "bin" / "vdirsyncer"
    if command.exists():
        return command
    print(f"Installing {VDIRSYNCER} into {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", VDIRSYNCER], check=True)
    return command


# Runs one command and writes (wall seconds, its peak RSS in KiB, its exit status, its CPU seconds)
# to the file named first. A process started straight from the bench inherits the bench's own peak RSS as its floor
# (Linux carries the old address space's high-water mark over exec, and vfork shares the bench's):
# 100 MiB and more here, above vdirsyncer's whole peak. This small launcher's child starts from
# the launcher's few MiB, so the figure is the command's own.
LAUNCHER = textwrap.dedent(
    """
    import os, sys, time
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    _pid, status, usage = os.wait4(pid, 0)
    with open(sys.argv[1], "w") as out:
        cpu = usage.ru_utime + usage.ru_stime
        out.write(f"{time.perf_counter() - began} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}")
    """
)


def timed(command: list[str], *, env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, float]:
    """Run a process to its end: (wall seconds, its peak RSS in MiB, its CPU seconds, user + system).
    Fails loudly on a non-zero exit."""
    # Output goes to files, not pipes: nobody reads a pipe while we wait, and vdirsyncer's line per
    # item (over 64 KiB at 2,000 entries) would fill it and block the process for ever.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as figures:
        launcher = [sys.executable, "-S", "-c", LAUNCHER, figures.name, *command]
        subprocess.run(launcher, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=True)
        seconds, rss_kib, returncode, cpu = Path(figures.name).read_text().split()
        if int(returncode):
            out.seek(0)
            err.seek(0)
            raise SystemExit(
                f"{' '.join(command)} failed ({returncode}):\n{out.read().decode()[-3000:]}\n"
                f"{err.read().decode()[-3000:]}"
            )
    return float(seconds), int(rss_kib) / 1024, float(cpu)  # Linux reports KiB


def django_env(database_url: str) -> dict:
    """The helpdesk's environment as a worker runs in production: DEBUG off (with DEBUG on, Django
    keeps and formats every SQL statement for the debug page, which a worker never shows)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="helpdesk.settings", PYTHONPATH=str(ROOT), DEBUG="off")
    return env


def compile_project() -> None:
    """Byte-compile the project's modules once, as an installed application is (pip compiled
    vdirsyncer's when it installed it); without it, a machine with PYTHONDONTWRITEBYTECODE set
    compiles them again in every timed process."""
    folders = [str(ROOT / name) for name in ("agents", "calendars", "helpdesk", "integrations", "tickets")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, stdout=subprocess.DEVNULL)


SETUP = textwrap.dedent(
    """
    import sys
    from django.contrib.auth.models import User
    from agents.models import Agent
    from integrations import services
    url, user, password, calendar = sys.argv[1:5]
    connection = services.add_connection(
        name="Radicale", kind="caldav", url=url, username=user, secret=password,
        options={"calendar_home": "/{user}/", "timeout": 600},
    )
    agent = Agent.objects.create(user=User.objects.create_user(user, email=user + "@example.com"))
    services.connect_agent(agent, connection=connection, calendar=calendar, import_external=True)
    """
)

SETUP_COMMAND = [sys.executable, "-c", "import django; django.setup(); exec(open(0).read())"]

COUNT_SQL = textwrap.dedent(
    """
    import json, django
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    counts = []
    for _ in range(2):  # the import, then the poll with nothing changed
        seen = []
        def count(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)
        with connection.execute_wrapper(count):
            call_command("sync_calendars", stdout=open("/dev/null", "w"))
        counts.append(len(seen))
    print(json.dumps(counts))
    """
)


def template_database(folder: Path, server_url: str, calendar: str, database_url: str | None) -> tuple[str, callable]:
    """A migrated database with the technician's calendar connected, and a function giving a fresh
    copy of it (its DATABASE_URL) for each run."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    if database_url:  # a server database: migrate and set up once per copy (slow, but fresh)

        def fresh() -> str:
            subprocess.run(
                [*manage, "flush", "--no-input"], env=django_env(database_url), check=True, capture_output=True
            )
            subprocess.run(
                [*SETUP_COMMAND, server_url, USER, PASSWORD, calendar],
                input=SETUP.encode(),
                env=django_env(database_url),
                check=True,
                capture_output=True,
            )
            return database_url

        subprocess.run([*manage, "migrate", "-v0"], env=django_env(database_url), check=True)
        return database_url, fresh
    template = folder / f"template-{calendar}.sqlite3"
    url = f"sqlite:///{template}"
    subprocess.run([*manage, "migrate", "-v0"], env=django_env(url), check=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); exec(open(0).read())",
            server_url,
            USER,
            PASSWORD,
            calendar,
        ],
        input=SETUP.encode(),
        env=django_env(url),
        check=True,
    )
    counter = iter(range(10**6))

    def fresh() -> str:
        copy = folder / f"run-{calendar}-{next(counter)}.sqlite3"
        shutil.copy(template, copy)
        return f"sqlite:///{copy}"

    return url, fresh


def vdirsyncer_config(folder: Path, calendar_url: str) -> Path:
    """A fresh vdirsyncer configuration: the Radicale calendar to an empty filesystem storage."""
    (folder / "status").mkdir(parents=True)
    (folder / "files").mkdir()
    config = folder / "config"
    config.write_text(
        textwrap.dedent(
            f"""
            [general]
            status_path = "{folder / "status"}"

            [pair cal]
            a = "server"
            b = "files"
            collections = null
            conflict_resolution = "a wins"

            [storage server]
            type = "caldav"
            url = "{calendar_url}"
            username = "{USER}"
            password = "{PASSWORD}"

            [storage files]
            type = "filesystem"
            path = "{folder / "files"}"
            fileext = ".ics"
            """
        )
    )
    return config


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000", help="entries per calendar, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each side per size")
    parser.add_argument("--vdirsyncer-venv", default=str(ROOT / "bench" / ".venv-vdirsyncer"))
    parser.add_argument("--database-url", default=None, help="a server database to use (emptied!) instead of SQLite")
    parser.add_argument("--no-sql-count", action="store_true", help="skip the in-process SQL statement count")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    vdirsyncer = ensure_vdirsyncer(Path(args.vdirsyncer_venv))
    compile_project()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from integrations.providers.base import RemoteCalendar, Window
    from integrations.providers.caldav import CalDAVProvider
    from tests.peers.radicale import sample_entries, start_radicale_process

    manage = [sys.executable, str(ROOT / "manage.py"), "sync_calendars"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        server = start_radicale_process(folder / "radicale", {USER: PASSWORD})
        provider = CalDAVProvider(server.url, USER, PASSWORD, calendar_home="/{user}/", timeout=1200)
        try:
            for size in sizes:
                name = f"cal{size}"
                calendar = provider.make_calendar(f"{USER}@example.com", name)
                server.write_entries(calendar.calendar_id, sample_entries(size, date.today() + timedelta(days=1)))
                wide = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
                began = time.perf_counter()
                provider.list_changes(RemoteCalendar("", calendar.calendar_id), None, wide)  # Radicale's first read
                print(
                    f"{size} entries written; Radicale's first read took {time.perf_counter() - began:.1f} s",
                    flush=True,
                )
                _template, fresh = template_database(folder, server.url, name, args.database_url)
                times = {"hd": [], "vd": [], "hd2": [], "vd2": [], "hdcpu": [], "vdcpu": []}
                memory = {"hd": [], "vd": []}
                for round_ in range(args.rounds):
                    for side in ("vd", "hd") if round_ % 2 else ("hd", "vd"):
                        if side == "hd":
                            env = django_env(fresh())
                            seconds, rss, cpu = timed(manage, env=env, cwd=ROOT)
                            again, _, _ = timed(manage, env=env, cwd=ROOT)
                        else:
                            run = folder / f"vd-{size}-{round_}"
                            config = vdirsyncer_config(run, calendar.calendar_id)
                            env = {**os.environ, "VDIRSYNCER_CONFIG": str(config)}
                            subprocess.run([str(vdirsyncer), "discover"], env=env, check=True, capture_output=True)
                            seconds, rss, cpu = timed([str(vdirsyncer), "sync"], env=env)
                            again, _, _ = timed([str(vdirsyncer), "sync"], env=env)
                            files = len(list((run / "files").glob("*.ics")))
                            if files != size:
                                raise SystemExit(f"vdirsyncer stored {files} of {size} entries")
                        times[side].append(seconds)
                        times[side + "2"].append(again)
                        times[side + "cpu"].append(cpu)
                        memory[side].append(rss)
                    last = {key: values[-1] for key, values in times.items()}
                    print(
                        f"  round {round_ + 1}: helpdesk {last['hd']:.2f} s (CPU {last['hdcpu']:.2f} s) / poll "
                        f"{last['hd2']:.2f} s, vdirsyncer {last['vd']:.2f} s (CPU {last['vdcpu']:.2f} s) / "
                        f"poll {last['vd2']:.2f} s",
                        flush=True,
                    )
                sql = [None, None]
                if not args.no_sql_count:
                    out = subprocess.run(
                        [sys.executable, "-c", COUNT_SQL],
                        env=django_env(fresh()),
                        cwd=ROOT,
                        check=True,
                        capture_output=True,
                    ).stdout.decode()
                    sql = json.loads(out.strip().splitlines()[-1])
                rows.append((size, times, memory, sql))
        finally:
            server.stop()

    print()
    print(f"Medians of {args.rounds} rounds, whole processes, same Radicale calendar (ratio: helpdesk / vdirsyncer)")
    head = (
        f"{'entries':>7} | {'import hd':>9} {'vdirsyncer':>10} {'ratio':>6}"
        f" | {'peak MiB hd':>11} {'vd':>6} {'ratio':>6} | {'poll hd':>7} {'vd':>6} {'ratio':>6}"
        f" | {'SQL import':>10} {'SQL poll':>8} | {'CPU hd':>6} {'vd':>5} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for size, times, memory, sql in rows:
        hd, vd, hd2, vd2, hdcpu, vdcpu = (median(times[k]) for k in ("hd", "vd", "hd2", "vd2", "hdcpu", "vdcpu"))
        mem_hd, mem_vd = max(memory["hd"]), max(memory["vd"])
        print(
            f"{size:>7} | {hd:>8.2f}s {vd:>9.2f}s {hd / vd:>5.2f}x"
            f" | {mem_hd:>11.0f} {mem_vd:>6.0f} {mem_hd / mem_vd:>5.2f}x | {hd2:>6.2f}s {vd2:>5.2f}s {hd2 / vd2:>5.2f}x"
            f" | {sql[0]!s:>10} {sql[1]!s:>8} | {hdcpu:>5.2f}s {vdcpu:>4.2f}s {hdcpu / vdcpu:>5.2f}x"
        )
    if len(rows) > 1 and rows[0][3][0] is not None:
        (small, *_rest, small_sql), (large, *_rest2, large_sql) = rows[0], rows[-1]
        per = (large_sql[0] - small_sql[0]) / (large - small) * 50
        print(
            f"SQL of the import grows by {per:.2f} statements per 50 entries ({small} -> {large}); "
            f"unchanged poll: {small_sql[1]} and {large_sql[1]} statements"
        )


if __name__ == "__main__":
    main()

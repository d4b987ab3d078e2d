"""`make run`'s Procfile under the real honcho: honcho stops every process when one ends and has no
restart (honcho's manager: "sending SIGTERM to ..." once any process stopped), so the Celery worker
and beat run under deploy/keep-running, which starts a crashed one again and says so (trial F2: a
worker crash took the web server, beat and Radicale down without a word)."""

import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP_RUNNING = ROOT / "deploy" / "keep-running"
HONCHO = ROOT / ".venv" / "bin" / "honcho"


class _Honcho:
    """`honcho start` on a Procfile in `folder` (written from `procfile` when given), its output
    lines collected as they come."""

    def __init__(self, folder: Path, procfile: str | None, *names: str, env: dict | None = None, **more: str) -> None:
        if procfile is not None:
            (folder / "Procfile").write_text(procfile)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._ended = False
        self.process = subprocess.Popen(
            [str(HONCHO), "-f", str(folder / "Procfile"), "-d", str(folder), "start", "--no-colour", *names],
            cwd=folder,
            env={**(os.environ if env is None else env), **more},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, (text, self.lines)
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self._ended = line is None
            assert line is not None, (text, self.lines)
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C
        self.process.wait(timeout=60)
        self.wait_for_end()

    def wait_for_end(self) -> None:
        while not self._ended:
            line = self._queue.get(timeout=30)
            self._ended = line is None
            if line is not None:
                self.lines.append(line)


def _wrapped(name: str, script: str) -> str:
    return f"{name}: {shlex.quote(str(KEEP_RUNNING))} {name} sh -c {shlex.quote(script)}\n"


def test_make_runs_procfile_keeps_the_celery_processes_running():
    commands = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    for name in ("worker", "beat"):
        assert commands[name].startswith(f"deploy/keep-running {name} .venv/bin/celery -A helpdesk {name} "), commands
    assert os.access(KEEP_RUNNING, os.X_OK)


def test_a_crashed_worker_is_started_again_and_the_other_processes_keep_running(tmp_path):
    crash_once = 'test -e crashed || { touch crashed; echo "Unrecoverable error"; exit 1; }; echo "worker up"; sleep 60'
    honcho = _Honcho(tmp_path, "web: echo web up; sleep 60\n" + _wrapped("worker", crash_once), KEEP_RUNNING_DELAY="0")
    try:
        honcho.wait_for("worker up")
        honcho.wait_for("web up")
    finally:
        honcho.stop()
    before_stop = honcho.lines[
        : next(i for i, line in enumerate(honcho.lines) if "SIGINT" in line or "SIGTERM" in line)
    ]
    said = [line for line in before_stop if "==> worker" in line]
    assert len(said) == 1 and "worker stopped with exit code 1" in said[0], honcho.lines
    assert "starting it again" in said[0] and "other processes keep running" in said[0]
    assert not any("web.1 stopped" in line for line in before_stop), honcho.lines
    # Ctrl-C stops it for good: no restart after the stop.
    assert sum("starting it again" in line for line in honcho.lines) == 1, honcho.lines


def test_a_worker_that_keeps_failing_is_given_up_on_with_its_name_and_exit_code(tmp_path):
    honcho = _Honcho(
        tmp_path,
        "web: sleep 60\n" + _wrapped("worker", "echo boom; exit 3"),
        KEEP_RUNNING_DELAY="0",
        KEEP_RUNNING_TRIES="2",
    )
    try:
        assert honcho.process.wait(timeout=60) != 0
        honcho.wait_for_end()
    finally:
        honcho.stop()
    text = "\n".join(honcho.lines)
    assert "worker stopped with exit code 3, 2 times within a minute: not starting it again" in text, text
    assert "worker.1 stopped (rc=3)" in text and "sending SIGTERM to web.1" in text, text


def test_ctrl_c_stops_make_runs_real_worker_and_its_wrapper(tmp_path):
    """The Procfile's worker line as `make run` starts it: after Ctrl-C every process of its group
    ends (a SIGTERM passed on again during Celery's warm shutdown hung the prefork worker in 2 of 4
    tries). On kombu's in-memory broker: a worker on the default folder broker would take the
    tasks of a `make run` going on in the same checkout."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "CELERY_BROKER_URL": "memory://localhost/"}
    honcho = _Honcho(ROOT, None, "worker", env=env)
    group = None
    try:
        honcho.wait_for("worker.1 started (pid=")
        group = int(re.search(r"worker\.1 started \(pid=(\d+)\)", "\n".join(honcho.lines)).group(1))
        honcho.wait_for("ready.")
        assert "keep-running worker" in (ROOT / "Procfile").read_text()
        honcho.process.send_signal(signal.SIGINT)  # Ctrl-C reaches honcho, which signals each process group
        honcho.process.wait(timeout=60)
        honcho.wait_for_end()
        deadline = time.monotonic() + 30
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(group), honcho.lines
        assert not any("starting it again" in line for line in honcho.lines), honcho.lines
    finally:
        if group is not None and _group_alive(group):
            os.killpg(group, signal.SIGKILL)
        if honcho.process.poll() is None:
            honcho.process.kill()
            honcho.process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True

"""`make run` says what it is doing before each slow step (trial 16: about 3.5 minutes without a
word from start to the printed address on a shared 2-core machine)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_announces_every_step_before_it_runs():
    # -n: print the commands only; -o: take the installed packages as up to date.
    lines = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "-o", "node_modules/.package-lock.json", "-o", "install", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    steps = [index for index, line in enumerate(lines) if re.search(r"manage\.py \w+|honcho start", line)]
    assert len(steps) == 5, lines
    announced = []
    for number, index in enumerate(steps, start=1):
        before = [line for line in lines[:index] if line.startswith('echo "==> ')]
        assert before, f"nothing is said before {lines[index]!r}"
        assert before[-1].startswith(f'echo "==> {number}/5 '), (lines[index], before[-1])
        announced.append(before[-1])
    assert len(set(announced)) == 5
    # migrate names the migrations it applies instead of running silently (-v 0).
    assert any("manage.py migrate" in line and "-v 0" not in line for line in lines)

"""Running `distill` as a real process (the console script): interrupt it, run it to the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from distill.demo.recorded_teacher import recorded_teacher, role_settings

DISTILL = str(Path(sys.executable).parent / "distill")


def slow_teacher(body):
    reply = recorded_teacher(body)
    reply.delay_s = 0.4
    return reply


def env_for(ws: Path, base_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILL_")}
    env.update({"DISTILL_WORKSPACE": str(ws), "MLX_DISABLE_COMPILE": "1"})
    if base_url:
        for role, values in role_settings(base_url).items():
            env.update({f"DISTILL_{role.upper()}__{k.upper()}": v for k, v in values.items()})
    return env


def interrupt(args: list[str], env: dict[str, str], after: float, when=None) -> subprocess.CompletedProcess:
    """Start the command; send SIGINT once `when()` says some work is done (else after `after` seconds)."""
    proc = subprocess.Popen([DISTILL, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + (120 if when else after)
    while time.monotonic() < deadline and proc.poll() is None:
        if when is not None and when():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_clean_interrupt(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 130, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr + r.stdout and "interrupted: finished work is saved" in r.stderr


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run([DISTILL, *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r



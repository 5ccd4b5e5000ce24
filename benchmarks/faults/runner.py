"""Running the project's commands for the fault benchmark: started in a session of their own, with
their output in files; killed with SIGKILL after a delay, or just before their N-th write, rename or
deletion in the project (through benchmarks/stop_at.py, which also counts them); and what is left of
a killed command's processes afterwards.

    runner = Runner(project)
    outcome = runner.run(["-m", "stages.tile"], limit=600.0, stop=0)    # counting its writes
    killed = runner.run_killed(["-m", "stages.tile"], 120.0, None, 12, "main")
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from benchmarks import stop_at

from .project import Project

WRITES = ["write", "rename", "remove", "mkdir", "rmdir", "truncate"]  # the events a kill at a write counts


@dataclass
class Outcome:
    returncode: int | None  # None: killed by the timeout (a hang)
    stdout: str
    stderr: str
    seconds: float
    killed: bool = False
    orphans: int = 0  # processes of the command alive after it was killed
    writes: int = 0  # writes, renames and deletions under the project (run through stop_at)
    first_write: float = 0.0  # seconds from its start to its first write (stop_at)
    renamed: dict[str, float] = field(default_factory=dict)  # when it last renamed a file onto each path, by the clock


def session_processes(session: int) -> list[int]:
    """Live processes of a session (a command started with start_new_session: its pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def kill_session(process: subprocess.Popen, killed: bool, returncode: int | None) -> int:
    """After a kill or a hang: wait up to 5 s for the processes of ``process``'s session to end, then
    kill those left (so that the next run starts clean); returns how many were left (a hang)."""
    if not killed and returncode is not None:
        return 0
    deadline = time.monotonic() + 5.0  # the kernel tears a killed group down at once: 5 s is plenty
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_processes(process.pid)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(left)


class Runner:
    """Runs ``python ARGV`` in the project, plainly or through stop_at."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.outputs: dict[int, tuple[IO[str], IO[str]]] = {}  # a running process's stdout and stderr files

    def start(self, argv: list[str], stop: int | None = None, how: str = "group") -> subprocess.Popen:
        """``python ARGV`` in the project; with ``stop`` (``argv`` being ``-m MODULE ...``), through
        stop_at, killing ``how`` (its process ``group`` or its ``main`` process) at the ``stop``-th
        write (0: counting writes only). Its output goes to files, not pipes, which a process that
        outlives it would keep open."""
        command, env = [sys.executable, *argv], self.project.env
        if stop is not None:
            action = "kill-group" if how == "group" else "kill"
            options = {"on": WRITES, "under": True, "main_only": True, "report": True}
            command = stop_at.command(self.project.root, stop, action, argv[1], *argv[2:], **options)
            env = stop_at.environment(self.project.root, env)
        # closed by finish, once the process has ended
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115
        process = subprocess.Popen(
            command,
            cwd=self.project.root,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        self.outputs[process.pid] = (out, err)
        return process

    def finish(self, process: subprocess.Popen, started: float, limit: float, killed: bool = False) -> Outcome:
        """Wait for ``process`` (at most ``limit`` s from ``started``: then it is killed, a hang), and
        count and kill the processes of its session that outlive it."""
        try:
            returncode = process.wait(timeout=max(0.0, started + limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode = None
        ended = time.monotonic()
        orphans = kill_session(process, killed, returncode)
        out, err = self.outputs.pop(process.pid)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
        out.close(), err.close()
        report = stop_at.read_report(stderr)
        return Outcome(
            returncode,
            stdout,
            stderr,
            ended - started,
            killed,
            orphans,
            report.get("events", 0),
            report.get("first", 0.0),
            report.get("renamed", {}),
        )

    def run(self, argv: list[str], limit: float, stop: int | None = None) -> Outcome:
        started = time.monotonic()
        return self.finish(self.start(argv, stop), started, limit)

    def run_killed(self, argv: list[str], limit: float, delay: float | None, stop: int | None, how: str) -> Outcome:
        """Start ``argv``; SIGKILL it after ``delay`` seconds, or at its ``stop``-th write (stop_at)."""
        started = time.monotonic()
        process = self.start(argv, stop, how)
        killed = False
        if delay is not None:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                if how == "group":
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    os.kill(process.pid, signal.SIGKILL)
                killed = True
        outcome = self.finish(process, started, limit, killed=True)
        outcome.killed = killed or outcome.returncode == -signal.SIGKILL
        return outcome

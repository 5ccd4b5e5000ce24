"""Run ``python -m MODULE ARGS...`` and stop it just before its N-th file event in FOLDER: a rename
onto, deletion or opening of a file there whose name matches a pattern (fnmatch). Python's audit
hooks see each event before it happens; the command itself runs unchanged. The tests stop a stage
half-way so; the fault benchmark (benchmarks/faults/) kills every command so.

    python -P benchmarks/stop_at.py [options] FOLDER N ACTION MODULE ARGS...   # PYTHONPATH: the project

ACTION, at the N-th event (0: never): ``kill`` sends SIGKILL to the process that makes it, as the
OOM killer or a power cut would; ``kill-group`` to its whole process group; ``pause`` prints
"paused" and waits for its stdin to close, so that a test can act while it is half-way.

Options: ``--on EVENTS`` (comma-separated, default ``rename,remove``): ``open`` (any opening),
``write`` (an opening for writing), ``rename`` (counted at its destination), ``remove``, ``mkdir``,
``rmdir``, ``truncate``; ``--pattern GLOB`` (default ``*``); ``--under``: files anywhere below FOLDER
(``__pycache__`` and ``.git`` left out), not only directly in it; ``--main-only``: count the events
of the started process alone, not those of processes it forks; ``--report``: at exit, print
``stop_at: {"events": ..., "first": ..., "renamed": {...}}`` on stderr (the count, the seconds to the
first, and by the clock when a file, relative to FOLDER, was last renamed onto).

Start it with ``command`` and ``environment``: ``-P`` keeps this file's folder off the module search path and
PYTHONPATH puts the project's folder first on it, as ``python -m`` does, so that MODULE and what it
imports are the project's and no module here can hide one of them.
"""

from __future__ import annotations

import argparse
import atexit
import fnmatch
import json
import os
import runpy
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROGRAM = Path(__file__).resolve()
EVENTS = {  # the names used here: the audit events they stand for
    "open": "open",
    "write": "open",
    "rename": "os.rename",
    "remove": "os.remove",
    "mkdir": "os.mkdir",
    "rmdir": "os.rmdir",
    "truncate": "os.truncate",
}
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def command(folder: str | Path, count: int, action: str, module: str, *args: str, **options: Any) -> list[str]:
    """The command line that runs ``python -m MODULE ARGS`` stopped at its ``count``-th event in
    ``folder``; ``options``: ``on`` (a list of events), ``pattern``, ``under``, ``main_only``, ``report``."""
    flags = []
    for name, value in options.items():
        if value is True:
            flags.append("--" + name.replace("_", "-"))
        elif name == "on":
            flags += ["--on", ",".join(value)]
        elif value is not False:
            flags += ["--" + name, str(value)]
    return [sys.executable, "-P", str(PROGRAM), *flags, str(folder), str(count), action, module, *args]


def environment(project: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``project`` first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(project).resolve()), env.get("PYTHONPATH")]))
    return env


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--on", default="rename,remove", help="events to count (comma-separated)")
    parser.add_argument("--pattern", default="*", help="file names to count (fnmatch)")
    parser.add_argument("--under", action="store_true", help="anywhere below FOLDER, not only in it")
    parser.add_argument("--main-only", action="store_true", help="the started process's events alone")
    parser.add_argument("--report", action="store_true", help="print what was seen at exit")
    parser.add_argument("folder", type=os.path.abspath)
    parser.add_argument("count", type=int)
    parser.add_argument("action", choices=("kill", "kill-group", "pause"))
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    unknown = set(options.on.split(",")) - set(EVENTS)
    if unknown:
        parser.error(f"--on: unknown events {sorted(unknown)}; known: {', '.join(EVENTS)}")
    return options


@dataclass
class Watch:
    """The audit hook: counts the events that match and acts at the ``count``-th."""

    options: argparse.Namespace
    main: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.monotonic)
    seen: int = 0
    first: float = 0.0
    renamed: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wanted = self.options.on.split(",")
        self.audit_events = {EVENTS[name] for name in wanted}  # checked first: the hook sees every event
        self.any_open = "open" in wanted  # else only openings for writing

    def __call__(self, event: str, args: tuple) -> None:
        path = self.path(event, args)
        if path is None or (self.options.main_only and os.getpid() != self.main):
            return
        self.seen += 1
        self.first = self.first or time.monotonic() - self.started
        if event == "os.rename":
            self.renamed[os.path.relpath(path, self.options.folder)] = time.time()
        if self.seen == self.options.count:
            self.act()

    def path(self, event: str, args: tuple) -> str | None:
        """The file an event is about, where it is one this watch counts."""
        if event not in self.audit_events:
            return None
        if event == "open" and not self.any_open:
            mode, flags = args[1], args[2]
            if not ((isinstance(mode, str) and any(c in mode for c in "wax+")) or (mode is None and flags & WRITES)):
                return None
        target = args[1] if event == "os.rename" else args[0]
        if isinstance(target, int):  # a file descriptor, not a path
            return None
        path = os.path.abspath(os.fsdecode(target))
        folder, name = os.path.dirname(path), os.path.basename(path)
        if self.options.under:
            parts = os.path.relpath(path, self.options.folder).split(os.sep)
            if not path.startswith(self.options.folder + os.sep) or "__pycache__" in parts or ".git" in parts:
                return None
        elif folder != self.options.folder:
            return None
        return path if fnmatch.fnmatch(name, self.options.pattern) else None

    def act(self) -> None:
        if self.options.action == "kill-group":
            os.killpg(0, signal.SIGKILL)
        if self.options.action.startswith("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        print("paused", flush=True)
        sys.stdin.read()

    def report(self) -> None:
        if os.getpid() == self.main:
            seen = {"events": self.seen, "first": self.first, "renamed": self.renamed}
            print("stop_at: " + json.dumps(seen), file=sys.stderr)


def main() -> None:
    options = parse(sys.argv[1:])
    watch = Watch(options)
    if options.report:
        atexit.register(watch.report)
    sys.argv[1:] = options.args
    # Ctrl-C reaches the command as from a terminal, whatever its parent (a test runner's worker, say)
    # left ignored or blocked: both are inherited across exec, and either would swallow a test's SIGINT
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.addaudithook(watch)
    runpy.run_module(options.module, run_name="__main__", alter_sys=True)


def read_report(stderr: str) -> dict[str, Any]:
    """What ``--report`` printed in ``stderr`` (empty where it printed nothing)."""
    line = next((line for line in stderr.splitlines() if line.startswith("stop_at: ")), "stop_at: {}")
    return dict(json.loads(line.removeprefix("stop_at: ")))


if __name__ == "__main__":
    main()

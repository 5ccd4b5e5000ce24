"""Run ``python -m MODULE ARGS...`` and stop it just before its N-th rename or deletion of a file
in FOLDER whose name matches PATTERN (fnmatch): ``kill`` sends it SIGKILL there, as the OOM killer
or a power cut would; ``pause`` prints "paused" and waits for its stdin to close, so that a test can
act while it is half-way; ``pause-open`` pauses so before its N-th opening of such a file instead
(to read it, say). The command itself runs unchanged (Python's audit hooks see each rename,
deletion and opening before it happens).

    python tests/stop_at.py FOLDER PATTERN N kill|pause|pause-open MODULE ARGS...
"""

from __future__ import annotations

import fnmatch
import os
import runpy
import signal
import sys

folder, pattern, count, action, module = sys.argv[1:6]
folder, remaining = os.path.abspath(folder), int(count)
sys.argv[1:6] = []
sys.path[0] = os.getcwd()  # as `python -m` does


def stop(event: str, args: tuple) -> None:
    global remaining
    if (event == "open") != (action == "pause-open") or event not in ("open", "os.rename", "os.remove"):
        return
    if isinstance(args[0], int):  # a file descriptor, not a path
        return
    path = os.path.abspath(os.fsdecode(args[1] if event == "os.rename" else args[0]))
    if os.path.dirname(path) != folder or not fnmatch.fnmatch(os.path.basename(path), pattern):
        return
    remaining -= 1
    if remaining == 0:
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        print("paused", flush=True)
        sys.stdin.read()


sys.addaudithook(stop)
runpy.run_module(module, run_name="__main__", alter_sys=True)

"""The fault benchmark's report: a table of counts per command (and the total), a line on the pairs
of writers, and the one JSON line it ends with."""

from __future__ import annotations

import json

from .checks import Counts

COLUMNS = (
    ("kills", "kills"),
    ("timed", "timed"),
    ("at_write", "at write"),
    ("main_only", "main only"),
    ("refused", "next refused"),
    ("old", "as before"),
    ("new", "next ran"),
    ("reruns_ok", "reruns ok"),
    ("resumed", "resumed"),
    ("temporaries", "temps left"),
    ("unclear", "unclear"),
    ("corrupt", "corrupt"),
    ("inputs_changed", "inputs changed"),
    ("hangs", "hangs"),
)


def print_table(table: dict[str, Counts], seconds: float, cases: dict[str, dict[str, int]]) -> None:
    """Per command: kills (after a delay, at a write; of the main process alone), what the next stage
    did (refused an incomplete input / not run, the input as before / ran on a complete one), reruns
    equal to the reference (train resumed from its checkpoint), temporaries left, and the problems."""
    print()
    print(f"{'command':<12}" + "".join(f"{title:>{len(title) + 2}}" for _, title in COLUMNS))
    total = Counts()
    commands = {name: counts for name, counts in table.items() if name != "two writers"}
    for name, counts in [*commands.items(), ("all", total)]:
        if name == "all":
            for key in vars(total):
                setattr(total, key, sum(getattr(counts, key) for counts in table.values()))
            total.kills = sum(counts.kills for counts in commands.values())
            total.reruns_ok = sum(counts.reruns_ok for counts in commands.values())
            total.refused = sum(counts.refused for counts in commands.values())
            total.new = sum(counts.new for counts in commands.values())
        print(f"{name:<12}" + "".join(f"{getattr(counts, key):>{len(title) + 2}}" for key, title in COLUMNS))
    pairs = table.get("two writers", Counts())
    print(
        f"two writers: {pairs.kills} pairs on data/tiles; {pairs.refused} with one stopped naming the other, "
        f"{pairs.new} ran in turn; {pairs.reruns_ok} with every check passed; unclear {pairs.unclear}, "
        f"corrupt {pairs.corrupt}, inputs changed {pairs.inputs_changed}, hangs {pairs.hangs}"
    )
    print(
        json.dumps(
            {
                "kills": total.kills,
                "by_command": {name: counts.kills for name, counts in commands.items()},
                "timed": total.timed,
                "at_write": total.at_write,
                "main_process_only": total.main_only,
                "next_stage_refused": total.refused,
                "next_stage_ran": total.new,
                "left_as_before": total.old,
                "reruns_ok": total.reruns_ok,
                "resumed": total.resumed,
                "pairs": pairs.kills,
                "pairs_one_stopped": pairs.refused,
                "pairs_in_turn": pairs.new,
                "pairs_ok": pairs.reruns_ok,
                "temporaries_left": total.temporaries,
                "unclear_errors": total.unclear,
                "seconds": round(seconds),
                "corrupt": total.corrupt,
                "inputs_changed": total.inputs_changed,
                "hangs": total.hangs,
                **{f"{case}_{key}": value for case, counts in cases.items() for key, value in counts.items()},
            }
        )
    )

"""Fault injection: every command that writes files, killed (SIGKILL) at random moments, then run again.

    nice -n 15 python -m benchmarks.faults              # 10 kills per command (60), 2 of dvc repro, 20 pairs
    python -m benchmarks.faults --kills 2 --pairs 2 --repro-kills 0 --keep /tmp/faults   # a quick look, kept

In a copy of the project in a temporary git repo (generated photos, the tests' tiny params with
``precision: fp32``, ``loader_workers: 0`` and ``workers: 2``), each of ``python -m stages.prepare``,
``stages.tile``, ``stages.train``, ``stages.evaluate``, ``python -m srcnn pack-tiles`` and
``python -m srcnn enhance`` is first run uninterrupted (the reference, timed), then ``--kills`` times:

1. the project is put in a starting state, drawn: the command's inputs complete and its outputs
   absent (a first run), or its outputs from older inputs (an update: a photo changed and one
   added; a seed tile changed and eight added);
2. the command is started in a session of its own and killed with SIGKILL: every other time after a
   delay drawn uniformly within the reference run's duration, else just before its N-th write,
   rename or deletion of a file in the project (N drawn within the reference run's count; Python's
   audit hooks see each one). One kill in three hits the command's main process alone, as the
   OOM killer does, the others its whole process group;
3. what the kill left is checked: an output that the next stage would take for complete (a shard
   folder that ``srcnn.shards.check_complete`` passes, with ``report.json`` for data/prepared; a
   model; a metrics file; an enhanced photo) must equal the reference, or be exactly what was there
   before; every shard such a folder lists must match its sha256; no process of the command may
   outlive it by 5 s;
4. the next stage is run at once (tile after prepare, train after tile and pack-tiles, evaluate
   after train, enhance after evaluate): where the kill left its input incomplete it must stop with
   an error that names the input and no traceback, writing nothing; where the kill left it complete
   it must run and write the reference's outputs (after evaluate, enhance must use the gate only if
   it is the one written for this model). Where the kill left the input exactly as it was before,
   the next stage would read what it read anyway: not run;
5. the command is run again to completion: its outputs must equal the uninterrupted run's.
   Temporary files of the killed run still there afterwards are named and counted, not errors.

Before and after every kill, the sha256 of every input photo (the raw photos, the seed tiles, the
JPEGs to enhance) and of the files the command reads (the upstream outputs) must stay the same.

``dvc repro`` is killed ``--repro-kills`` times after a delay drawn within an uninterrupted run,
starting from the older photos' outputs; run again, it must write the stages' references and
leave ``dvc status`` clean.

Then ``--pairs`` times, two writers of data/tiles are started (two tile stages, or a tile stage and
pack-tiles, by turns), each so that its first write would come when the other's does, give or take
0.15 s. Each must finish, or stop with a message naming the
other's pid; the folder must then pass ``check_complete`` and equal the reference of the writer that
wrote its manifest last.

Compared byte for byte: shards, manifest.json, report.json, every metrics file, dvclive's curves,
the before/after pictures, enhanced photos. Not byte for byte, and why:
- ``seconds`` and ``tiles_per_second`` in metrics/train.json and in the model's info: wall-clock
  time (a resumed run counts the time of the epochs the killed run completed);
- models/srcnn.pt: compared as loaded (format, config, every tensor exactly, info less the two
  timings), since its bytes carry those timings;
- ``model_sha256`` in models/srcnn.ladder.json: checked against the sha256 of the model file
  beside it rather than the reference's (the model's bytes differ by their timings);
- data/.NAME.state.json and data/.NAME.lock beside the shard folders: not outputs (sizes and
  mtimes, the lock holder's pid);
- dvclive/ is a log written as training goes and read by no stage: checked after the rerun only.

Every command has a time limit (10 times its reference run, at least 2 minutes): one that runs
past it counts as a hang, and so does a process that outlives the command it belongs to. Prints
one line a kill, a table per command, and one JSON line ending with ``"corrupt": 0,
"inputs_changed": 0, "hangs": 0``; ``corrupt`` counts outputs that looked complete but were not
the reference's, next stages that ran on such data or wrote something else, reruns that failed
or differed, and pairs that left a folder other than the last writer's; ``unclear_errors``,
refusals with a traceback or without naming the input or the other writer.

Where each part lives:

- ``__main__.py``  the command line and the order of the parts
- ``project.py``   the project copy, its saved states, file-tree snapshots and how they are compared
- ``runner.py``    starting a command, killing it (after a delay, or at a write via benchmarks/stop_at.py), its outcome
- ``commands.py``  the commands killed: how each is run, where it starts from, what it and the next stage write
- ``checks.py``    what a kill left: each output absent, as before, as the reference, or corrupt; the counts
- ``fault_run.py`` the references and one kill of a command with its next stage and its rerun
- ``repro.py``     ``dvc repro`` killed and run again
- ``pairs.py``     two writers of data/tiles started together
- ``cases.py``     the special cases: broken models, ``enhance DIR -o DIR/out`` run three times
- ``report.py``    the table and the JSON line
"""

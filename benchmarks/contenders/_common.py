"""What every contender command shares: the targets, the command line, the records.

A contender is a standalone command that runs N cases one after the other and
writes one JSON line per case:

    {"case": 3, "pid": 1234, "ok": true, "error": null, "rc": 0,
     "started": <monotonic>, "noticed": <monotonic>, "wall_s": 0.0213}

``started`` is taken just before the target is spawned, ``noticed`` at the moment
the contender's API told it the target had exited (what that moment is differs per
contender; each module says), and ``wall_s`` covers the whole case, from just before
the spawn to the moment every resource of the case is released. Times are
``time.monotonic()`` (CLOCK_MONOTONIC), the clock the trivial target stamps its
exit with, so ``noticed - stamp`` is the exit-detection latency.

Exit status: 0 every case ran, 1 some case failed (its record says why), 2 bad
usage, 4 skipped (the library is missing or cannot be driven): one line
``skipped: <why>`` on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent

EXIT_SKIPPED = 4


@dataclass(frozen=True)
class Target:
    """What to start and which output line says it is ready."""

    name: str
    argv: list[str]
    ready: str                       # a regex, searched in each output line
    ready_stream: str                # "stdout" or "stderr": where the ready line appears
    env: dict[str, str] = field(default_factory=dict)
    needs_port: bool = False         # PORT is set to a free port for every case


# The trivial target prints "ready" on stdout; the Flask app (one process, no
# reloader, atexit hooks that do not sleep) is ready when Werkzeug logs that it
# serves, on stderr. shutdown-probe's scenario files use the same regexes.
TARGETS = {
    "trivial": Target("trivial", [sys.executable, str(BENCH / "targets" / "trivial.py")],
                      ready=r"^ready$", ready_stream="stdout"),
    "flask": Target("flask", [sys.executable, str(ROOT / "scenarios" / "apps" / "flask_atexit.py")],
                    ready=r"Running on http://127\.0\.0\.1:\d+", ready_stream="stderr",
                    env={"USE_RELOADER": "0", "ATEXIT_SLEEP": "0"}, needs_port=True),
}

# Seconds a target may take to get ready or to exit before the case is an error.
TIMEOUT = 30.0


def free_port() -> int:
    """A port nothing listens on right now (bind port 0, close). Cases run one at a
    time, so nothing else of ours can take it before the target binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_env(target: Target, stamp_dir: str | None) -> dict[str, str]:
    """The target's environment: ours, unbuffered output (as shutdown-probe gives its
    targets by default), the target's own variables, a fresh port, the stamp folder."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **target.env)
    if target.needs_port:
        env["PORT"] = str(free_port())
    if stamp_dir:
        env["STAMP_DIR"] = stamp_dir
    else:
        env.pop("STAMP_DIR", None)
    return env


def skip(why: str) -> None:
    """Say why this contender cannot run, and leave with the 'skipped' status."""
    print(f"skipped: {why}", flush=True)
    raise SystemExit(EXIT_SKIPPED)


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--target", choices=sorted(TARGETS), required=True)
    p.add_argument("--cases", type=int, required=True, help="cases to run, one after the other")
    p.add_argument("--out", required=True, help="JSON lines file, one record per case")
    p.add_argument("--stamp-dir", default=os.environ.get("STAMP_DIR"),
                   help="where the target writes its exit stamp (default: $STAMP_DIR)")
    args = p.parse_args(argv)
    if args.cases < 1:
        p.error("--cases must be 1 or more")
    if args.stamp_dir:
        os.makedirs(args.stamp_dir, exist_ok=True)
    return args


# One case: given the target and its environment, run it and return
# (pid, noticed, returncode, extra fields for the record).
CaseFn = Callable[[Target, dict[str, str]], "CaseOutcome"]


@dataclass
class CaseOutcome:
    pid: int | None
    noticed: float
    rc: int | None
    extra: dict = field(default_factory=dict)


def stop_cleanly_on_signals() -> None:
    """SIGINT and SIGTERM become exceptions, so ``finally`` blocks run and the target
    of the case in progress is killed (SIGTERM's default action would leave it
    behind). After the first, both are ignored: Ctrl-C reaches the contender and
    run.py at once, and run.py then sends SIGTERM, which must not cut the cleanup
    short."""

    def on_signal(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        sys.exit(128 + signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def run(args: argparse.Namespace, one_case: CaseFn) -> int:
    """Run ``args.cases`` cases through ``one_case``; write a record per case."""
    stop_cleanly_on_signals()
    target = TARGETS[args.target]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with open(args.out, "w") as out:
        for n in range(1, args.cases + 1):
            started = time.monotonic()
            record: dict = {"case": n, "started": started}
            try:
                # inside the timing: shutdown-probe's per-case wall also covers
                # building the environment and finding a port
                outcome = one_case(target, target_env(target, args.stamp_dir))
                record.update(pid=outcome.pid, ok=True, error=None, rc=outcome.rc,
                              noticed=outcome.noticed, **outcome.extra)
            except Exception as exc:  # a failed case is a record, not the end of the run
                failed += 1
                record.update(ok=False, error=f"{type(exc).__name__}: {exc}",
                              trace=traceback.format_exc(limit=3))
            record["wall_s"] = time.monotonic() - started
            out.write(json.dumps(record) + "\n")
            out.flush()
    return 1 if failed else 0

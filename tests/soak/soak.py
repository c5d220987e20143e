"""Soak: hundreds of hostile cases through ``shutdown-probe run``, in one process.

    python tests/soak/soak.py FOLDER ROUNDS FIGURES.json

Writes one scenario per mode of tests/targets/hostile.py into FOLDER (every
builtin signal path that ends a process: sigterm, sigint, sigkill, ctrl-c), then
calls the CLI's ``main(["run", ..., "--jobs", "auto"])`` ROUNDS times in this same
process, and after each round records what a leak would change: open descriptors,
live Python objects and blocks (bounded caches emptied first), resident memory,
threads, live children. The figures (and every case's outcome) go
to FIGURES.json; tests/soak/test_soak.py judges them.

Run in-process rather than as ``shutdown-probe`` subprocesses: a leak in one run
would vanish with its process, and that is exactly what must not hide.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

# A script run on its own (not a module of the tests package), so it finds the
# targets from its own place: tests/soak/ -> tests/targets/.
HOSTILE = Path(__file__).resolve().parent.parent / "targets" / "hostile.py"

# scenario name -> hostile.py arguments (the mode first)
MODES = {
    "ignore-all": ["ignore-all"],
    "daemon": ["daemon"],
    "fork-many": ["fork-many", "25"],
    "fork-respawn": ["fork-many", "10", "respawn"],
    "close-output": ["close-output"],
    "flood": ["flood", "1", "1", "lines"],
    "no-newline": ["no-newline", "1", "1", "raw"],
    "bad-utf8": ["bad-utf8", "argv"],
    "own-pgid": ["own-pgid"],
    "exit-255": ["exit-255"],
    "sigstop": ["sigstop"],
    "sigstop-child": ["sigstop", "child"],
}
PATHS = ["sigterm", "sigint", "sigkill", "ctrl-c"]
# The stop timeout per mode. It is a bound on how fast the root ends after the signal
# (ten milliseconds here), so a loaded machine must not cross it: 0.3 s for every mode
# was crossed once, by bad-utf8's Ctrl-C with both cores busy. Modes built to hang wait
# it out every round, and modes that leave orphans wait it out too (orphans are killed
# at the stop timeout), so those stay short; the rest end in milliseconds and get a
# bound no scheduler delay reaches.
HANGS = {"ignore-all", "sigstop"}
LEAVE_ORPHANS = {"daemon", "fork-many", "fork-respawn", "own-pgid", "sigstop-child", "bad-utf8"}


def stop_timeout(mode: str) -> float:
    return 0.3 if mode in HANGS else 1.0 if mode in LEAVE_ORPHANS else 5.0


def write_scenarios(folder: Path) -> list[str]:
    files = []
    for name, args in MODES.items():
        argv = ["{python}", str(HOSTILE), "{workdir}", *args]
        text = "\n".join([
            f"name = {json.dumps(name)}",
            f"paths = {json.dumps(PATHS)}",
            "[app]",
            f"command = {json.dumps(argv)}",
            'ready = { file = "{workdir}/ready" }',
            "ready_timeout = 20",
            f"stop_timeout = {stop_timeout(name)}",
        ]) + "\n"
        path = folder / f"{name}.toml"
        path.write_text(text)
        files.append(str(path))
    return files


def drop_bounded_caches() -> None:
    """Empty every functools LRU cache and the regex caches: they are bounded and fill
    over the first rounds (rich keeps 4,096 cell widths, and every round's orphan
    PIDs are new strings), so their growth would hide or fake a leak."""
    import functools
    import re

    import regex

    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):
            obj.cache_clear()
    re.purge()
    regex.purge()


def measure() -> dict:
    import psutil

    drop_bounded_caches()
    gc.collect()
    me = psutil.Process()
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "rss_kb": int(status["VmRSS"].split()[0]),
        # Python's own count of live allocated blocks: what a leak of objects grows,
        # without the allocator's fragmentation and the OS's paging that move RSS.
        "blocks": sys.getallocatedblocks(),
        # Containers the collector tracks: a kept result, dict or list per case shows here.
        "gc_objects": len(gc.get_objects()),
        "threads": threading.active_count(),
        "children": sorted(p.pid for p in me.children() if p.status() != psutil.STATUS_ZOMBIE),
        "t": time.monotonic(),
    }


def main() -> int:
    folder, rounds, figures = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    from shutdown_probe import cli, watchdog

    files = write_scenarios(folder)
    start = measure()
    out = {"modes": MODES, "paths": PATHS, "start": start, "rounds": [], "cases": []}
    for n in range(rounds):
        report = folder / f"round-{n}.json"
        code = cli.main(["run", *files, "--jobs", "auto", "--quiet", "--json", str(report), "--width", "200"])
        after = measure()
        after["exit"] = code
        after["watchdog"] = watchdog.pid()
        out["rounds"].append(after)
    # The cases are read only now: keeping them while measuring would grow the very
    # object counts that judge the harness.
    for n in range(rounds):
        data = json.loads((folder / f"round-{n}.json").read_text())
        out["jobs"] = data["environment"].get("jobs")
        for c in data["cases"]:
            out["cases"].append({"round": n, "scenario": c["scenario"], "path": c["path"],
                                 "outcome": c["outcome"], "error": c.get("error"), "wall_s": c["wall_s"],
                                 "exit": c.get("exit"), "orphans": len(c.get("orphans") or [])})
    out["wall_s"] = round(time.monotonic() - start["t"], 1)
    figures.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

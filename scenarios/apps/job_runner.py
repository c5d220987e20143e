"""A job runner that already has article 2's fix, and still needs an init as PID 1.

The runner starts its jobs in the background through a shell (``sh -c 'job &'``), as
many services do for fire-and-forget work; the shell exits at once, so each job is
an orphan and the kernel hands it to PID 1 (or to the nearest subreaper).

It handles SIGTERM properly (``handle_exit``, article 2's fix): on a stop it waits for
the jobs it started to finish, so that no job's work is lost, then releases its
resources. It tells whether a job still runs the usual way, ``os.kill(pid, 0)``.

Under ``docker stop`` without an init the runner *is* PID 1, so every orphaned job
becomes its child. A finished job stays a zombie until its parent reaps it, and
nothing in the runner reaps processes it did not start with ``subprocess``. A zombie
still answers ``kill(pid, 0)``, so the runner waits for a job that has long ended,
until the grace period runs out and SIGKILL cuts it off: no "released". With
``docker run --init`` (tini), the init is PID 1: it adopts the job and reaps it the
moment it ends, and the runner's cleanup finishes. Outside a container the harness
(a subreaper, like an init) reaps orphans too, so ``sigterm`` works there as well.

Evidence: ``<workdir>/ready`` once the job runs; ``[pid N] waiting for job J`` when
the stop begins; ``<workdir>/released`` and ``[pid N] released`` when cleanup is
done; ``[pid N] atexit: hook ran``.

Usage: ``python job_runner.py WORKDIR``. ``JOB_SECONDS`` (default 0.3) is how long
the background job runs.
"""

import atexit
import os
import subprocess
import sys
import time
from pathlib import Path

from handle_exit import handle_exit

TICK = 0.5  # the service loop's unit of work; a signal interrupts the sleep
POLL = 0.05  # how often cleanup looks at its jobs again


def say(text):
    print(f"[pid {os.getpid()}] {text}", flush=True)


def on_exit():
    say("atexit: hook ran")


def start_job(seconds):
    """Start a background job through a shell; return its pid (as this process sees it)."""
    # The job's output goes elsewhere: holding our pipe open, it would make run() wait.
    out = subprocess.run(["sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


def running(pid):
    try:
        os.kill(pid, 0)  # succeeds for a zombie too: that is the bug an init fixes
    except ProcessLookupError:
        return False
    return True


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} WORKDIR", file=sys.stderr)
        return 2
    workdir = Path(argv[1])
    atexit.register(on_exit)
    jobs = [start_job(float(os.environ.get("JOB_SECONDS", "0.3")))]
    say(f"started job {jobs[0]}")

    def release():
        for job in jobs:
            say(f"waiting for job {job}")
            while running(job):
                time.sleep(POLL)
        (workdir / "released").write_text(f"{os.getpid()}\n")
        say("released")

    with handle_exit(release):
        (workdir / "ready").touch()
        while True:
            time.sleep(TICK)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""A job that keeps its state in a file: "started" while it works, "saved" once its
SIGTERM handler has run. SIGKILL leaves "started".

Usage: state_writer.py WORKDIR

Writes WORKDIR/state ("started"), WORKDIR/app.pid (its pid), then WORKDIR/ready, and
waits. On SIGTERM it writes "saved" to WORKDIR/state and exits 0.
"""

import os
import signal
import sys
from pathlib import Path

workdir = Path(sys.argv[1])


def on_term(signum, frame):
    (workdir / "state").write_text("saved")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
(workdir / "state").write_text("started")
(workdir / "app.pid").write_text(str(os.getpid()))
(workdir / "ready").touch()
while True:
    signal.pause()

"""Floods stdout before it is ready and/or while it shuts down.

Usage: flood.py WORKDIR MB_BEFORE MB_AFTER [lines|raw]

Writes MB_BEFORE megabytes to stdout, creates WORKDIR/ready, then waits for SIGTERM.
The SIGTERM handler writes MB_AFTER megabytes, then the line "FLOOD DONE <total>"
where <total> is every flood byte written, and exits 0. "lines" (the default) floods
with 100-byte lines, "raw" with bytes that contain no newline at all.
"""

import os
import signal
import sys

workdir = sys.argv[1]
before, after = float(sys.argv[2]), float(sys.argv[3])
unit = b"x" * 99 + b"\n" if (sys.argv[4:] or ["lines"])[0] == "lines" else b"y" * 100
chunk = unit * 10486  # ~1 MB
written = 0


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def flood(mb):
    global written
    left = int(mb * 1024 * 1024)
    while left > 0:
        part = chunk[:left]
        write_all(part)
        written += len(part)
        left -= len(part)


def on_term(signum, frame):
    flood(after)
    write_all(f"\nFLOOD DONE {written}\n".encode())
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
flood(before)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()

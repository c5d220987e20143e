"""A parent with N member children, each a fresh Python named by its command line.

Usage: aim_family.py WORKDIR N [wait-all]

The parent starts member 1, 2... N one after another (``aim_family.py member K FD``:
the number is in each member's argv), waits until each says it runs, prints
"member K pid P" for each and creates WORKDIR/ready. A member blocks until a signal
ends it (SIGTERM and SIGKILL kill it: no handlers). When the first member ends the
parent prints "member ended PID STATUS", sends SIGTERM to the others, reaps them,
prints "parent exit" and exits 0. With ``wait-all`` it signals nobody: it reaps the
others as they end (for a test where the harness signals every member itself).
"""

import os
import signal
import subprocess
import sys

if sys.argv[1] == "member":
    os.write(int(sys.argv[3]), b"running\n")
    while True:
        signal.pause()

workdir, count = sys.argv[1], int(sys.argv[2])
wait_all = sys.argv[3:] == ["wait-all"]
members = []
for k in range(1, count + 1):
    r, w = os.pipe()
    child = subprocess.Popen([sys.executable, __file__, "member", str(k), str(w)], pass_fds=[w])
    os.close(w)
    with os.fdopen(r) as fh:
        fh.readline()
    members.append(child)
for k, child in enumerate(members, 1):
    print(f"member {k} pid {child.pid}", flush=True)
open(os.path.join(workdir, "ready"), "w").close()
pid, status = os.wait()
print(f"member ended {pid} {status}", flush=True)
for child in members:
    if child.pid != pid:
        if not wait_all:
            child.send_signal(signal.SIGTERM)
        child.wait()
print("parent exit", flush=True)

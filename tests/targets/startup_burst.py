"""Writes a burst of startup lines, then a last startup line, then becomes ready.

Usage: startup_burst.py WORKDIR LINES

The pipe is enlarged to 1 MB so the burst sits unread in it while the harness gets
ready to fire: a reader that lags behind must still not count "startup done" (written
before the trigger) as shutdown evidence. Exits 0 on SIGTERM after "[stop] bye".
"""

import fcntl
import os
import signal
import sys

F_SETPIPE_SZ = 1031
try:
    fcntl.fcntl(1, F_SETPIPE_SZ, 1 << 20)
except OSError:
    pass  # a smaller pipe only makes the test easier to pass
signal.signal(signal.SIGTERM, lambda *_: (print("[stop] bye", flush=True), sys.exit(0)))
out = sys.stdout
for n in range(int(sys.argv[2])):
    out.write("s\n")
out.write("startup done\n")
out.flush()
open(os.path.join(sys.argv[1], "ready"), "w").close()
while True:
    signal.pause()

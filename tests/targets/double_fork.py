"""Double-forks a daemon that outlives the root.

Usage: double_fork.py WORKDIR PORT

The root forks; the intermediate forks again and exits at once; the grandchild calls
setsid() (new session, new process group) and accepts TCP connections on 127.0.0.1:PORT
forever. It prints "[pid N] daemon listening on PORT". The root reaps the
intermediate, waits until the daemon says it is listening (through a pipe), creates
WORKDIR/ready and blocks in signal.pause().
"""

import os
import signal
import socket
import sys

workdir, port = sys.argv[1], int(sys.argv[2])
r, w = os.pipe()

intermediate = os.fork()
if intermediate == 0:
    if os.fork() == 0:
        os.close(r)
        os.setsid()
        server = socket.create_server(("127.0.0.1", port))
        print(f"[pid {os.getpid()}] daemon listening on {port}", flush=True)
        os.write(w, b"listening\n")
        os.close(w)
        while True:
            conn, _ = server.accept()
            conn.close()
    os._exit(0)

os.close(w)
os.waitpid(intermediate, 0)
with os.fdopen(r) as fh:
    if fh.readline() != "listening\n":
        sys.exit("the daemon did not start")
print(f"[pid {os.getpid()}] root waiting", flush=True)
open(os.path.join(workdir, "ready"), "w").close()
while True:
    signal.pause()

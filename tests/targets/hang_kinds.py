"""One way of not ending each, for the results' ``hang`` findings.

Usage: hang_kinds.py WORKDIR MODE

Readiness: WORKDIR/ready, created once the mode is set up, after a line
"root=PID" ("root=PID child=PID" for child-ignores) on stdout.

* ``block``          SIGTERM blocked (pthread_sigmask) in the only thread; waits for ever.
* ``atexit``         an atexit callable ``wait_forever`` that never returns; SIGINT's
                     KeyboardInterrupt ends the main code, then finalization calls it.
* ``threads``        a non-daemon thread that never ends; after SIGINT, finalization
                     joins it for ever (no atexit callable is registered).
* ``listen``         listens on $PORT, never accepts; SIGTERM is caught by a handler
                     that does nothing.
* ``listen-accept``  the same, but a thread accepts every connection and closes it.
* ``child-ignores``  forks a child with SIGINT ignored (as a server's workers inherit
                     it); on SIGINT the root waits for that child for ever.
"""

import atexit
import os
import signal
import socket
import sys
import threading

workdir, mode = sys.argv[1], sys.argv[2]
forever = threading.Event()  # nothing sets it


def ready(**pids):
    print(" ".join(f"{role}={pid}" for role, pid in {"root": os.getpid(), **pids}.items()), flush=True)
    open(os.path.join(workdir, "ready"), "w").close()


if mode == "block":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    ready()
    forever.wait()
elif mode == "atexit":
    def wait_forever():
        forever.wait()

    atexit.register(wait_forever)
    ready()
    forever.wait()  # until SIGINT's KeyboardInterrupt
elif mode == "threads":
    threading.Thread(target=forever.wait, daemon=False).start()
    ready()
    forever.wait()
elif mode in ("listen", "listen-accept"):
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(os.environ["PORT"])))
    server.listen(16)
    if mode == "listen-accept":
        def accept():
            while True:
                conn, _ = server.accept()
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
    ready()
    while True:
        signal.pause()
elif mode == "child-ignores":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child inherits it at fork
    pid = os.fork()
    if pid == 0:
        forever.wait()
        os._exit(0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ready(child=pid)
    try:
        forever.wait()
    except KeyboardInterrupt:
        os.waitpid(pid, 0)  # for ever: the child ignores SIGINT
else:
    sys.exit(f"unknown mode {mode!r}")

"""A [verify] check with one behaviour per mode, for the harness tests.

Usage: verify_check.py MODE ARGS

* ``state WORKDIR WANT``: prints WORKDIR/state; exits 3 (printing "app still running")
  if the pid in WORKDIR/app.pid is still alive, else 0 when the state is WANT, else 1;
* ``echo PORT``: sends a line to the echo service on PORT; exits 0 when it comes back;
* ``hang [PIDFILE]``: writes its pid to PIDFILE (if given), prints "hanging" and
  sleeps forever;
* ``daemon PIDFILE``: starts a grandchild in a session of its own that sleeps forever,
  writes its pid to PIDFILE, prints "daemon started" and exits 0;
* ``flood``: writes 4 MiB without a newline, then 1000 lines with control characters
  and escape sequences, then exits 1;
* ``abort``: ends itself with SIGABRT;
* ``mark PATH``: creates PATH and exits 0 (whether it ran at all).
"""

import os
import socket
import sys
import time

mode, args = sys.argv[1], sys.argv[2:]
if mode == "state":
    workdir = args[0]
    pid = int(open(os.path.join(workdir, "app.pid")).read())
    try:
        os.kill(pid, 0)
        print("app still running")
        sys.exit(3)
    except ProcessLookupError:
        pass
    state = open(os.path.join(workdir, "state")).read()
    print(f"state: {state}")
    sys.exit(0 if state == args[1] else 1)
elif mode == "echo":
    with socket.create_connection(("127.0.0.1", int(args[0])), timeout=5) as conn:
        conn.sendall(b"ping\n")
        got = conn.makefile().readline().strip()
    print(f"echoed: {got}")
    sys.exit(0 if got == "ping" else 1)
elif mode == "hang":
    if args:
        with open(args[0] + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.rename(args[0] + ".tmp", args[0])  # whole, or not there
    print("hanging", flush=True)
    while True:
        time.sleep(60)
elif mode == "daemon":
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(args[0] + ".tmp", "w") as fh:
                fh.write(str(os.getpid()))
            os.rename(args[0] + ".tmp", args[0])
            while True:
                time.sleep(60)
        os._exit(0)
    os.wait()
    while not os.path.exists(args[0]):
        time.sleep(0.01)
    print("daemon started")
    sys.exit(0)
elif mode == "flood":
    out = sys.stdout.buffer
    out.write(b"x" * (4 << 20))
    for i in range(1000):
        out.write(b"\x1b[31mline %d\x07\x00 <b>|</b>\n" % i)
    out.flush()
    sys.exit(1)
elif mode == "abort":
    os.abort()
elif mode == "mark":
    open(args[0], "w").close()
    sys.exit(0)
sys.exit(f"unknown mode {mode}")

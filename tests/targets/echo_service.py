"""A tiny TCP echo server, to run as a scenario service.

Usage: echo_service.py PORT LOG [--never-ready]

Appends "start PID PORT" to LOG when it starts (so a test counts its starts by other
means than the results), prints "[echo PID] listening on PORT" once it accepts, and
echoes every line a client sends back. A client that sends "DIE" makes it print
"[echo PID] dying" and SIGKILL itself. On SIGTERM it appends "stop PID" and exits 0.
With --never-ready it prints a line and never listens.
"""

import os
import signal
import socket
import sys
import threading

port, log = int(sys.argv[1]), sys.argv[2]
pid = os.getpid()
with open(log, "a") as fh:  # one short append: one whole line
    fh.write(f"start {pid} {port}\n")


def on_term(signum, frame):
    with open(log, "a") as fh:
        fh.write(f"stop {pid}\n")
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)

if "--never-ready" in sys.argv:
    print(f"[echo {pid}] not listening, on purpose", flush=True)
    while True:
        signal.pause()


def serve(conn):
    with conn, conn.makefile("rwb") as stream:
        for line in stream:
            if line.strip() == b"DIE":
                print(f"[echo {pid}] dying", flush=True)
                os.kill(pid, signal.SIGKILL)
            stream.write(line)
            stream.flush()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
print(f"[echo {pid}] listening on {port}", flush=True)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()

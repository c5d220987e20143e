"""An app that needs a scenario service: the echo server of echo_service.py.

Usage: service_client.py WORKDIR

Connects to 127.0.0.1:$ECHO_PORT, sends "hello PID", prints "[pid N] echo: <reply>"
and creates WORKDIR/ready. On SIGTERM it sends $ON_STOP to the service first when
that is set (DIE kills the service), prints "[pid N] stopping" and exits 0.
"""

import os
import signal
import socket
import sys

workdir = sys.argv[1]
pid = os.getpid()
conn = socket.create_connection(("127.0.0.1", int(os.environ["ECHO_PORT"])), timeout=10)
stream = conn.makefile("rwb")
stream.write(f"hello {pid}\n".encode())
stream.flush()
print(f"[pid {pid}] echo: {stream.readline().decode().strip()}")
open(os.path.join(workdir, "ready"), "w").close()


def on_term(signum, frame):
    message = os.environ.get("ON_STOP")
    if message:
        stream.write(message.encode() + b"\n")
        stream.flush()
        stream.readline()  # its answer, or EOF when it died
    print(f"[pid {pid}] stopping")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
while True:
    signal.pause()

"""The tutorial's app after its fix: SIGTERM now ends it through sys.exit, so atexit runs.

docs/tutorial.md shows the lines that differ from app.py.
"""

import atexit
import os
import signal
import socket
import sys

jobs_done = 0


def save_state():
    print(f"state saved ({jobs_done} jobs)", flush=True)


def serve(port):
    global jobs_done
    with socket.create_server(("127.0.0.1", port)) as server:
        print(f"listening on port {server.getsockname()[1]}", flush=True)
        while True:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                jobs_done += 1
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")


atexit.register(save_state)
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
serve(int(os.environ.get("PORT", "0")))

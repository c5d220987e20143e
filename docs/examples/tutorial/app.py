"""The tutorial's app: a tiny HTTP server that saves its state at exit.

It registers an atexit hook and installs no SIGTERM handler, as many services do.
Run it with `python app.py`; PORT picks the port (default 0: any free port).
"""

import atexit
import os
import socket

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
serve(int(os.environ.get("PORT", "0")))

"""A pre-forking HTTP server in the style of gunicorn's sync workers, for the tests.

    prefork_server.py [WORKERS]     (PORT and SLOW_SECONDS come from the environment)

The master binds the port and forks WORKERS (default 2) workers; each accepts one
connection at a time and serves it (``/slow`` after SLOW_SECONDS, ``/`` at once).
When a worker dies the master forks a new one and prints "respawned PID". SIGTERM to
the master: it closes its listener, sends SIGTERM to the workers, which finish the
request they are serving, and exits when they are gone. A worker prints
"worker exit PID" when it leaves by itself.
"""

import os
import signal
import socket
import sys
import time

WORKERS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
SLOW = float(os.environ.get("SLOW_SECONDS", "1.5"))


def serve(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    path = data.split(b" ", 2)[1].decode()
    if path.startswith("/slow"):
        time.sleep(SLOW)
    body = f"{path} done by pid {os.getpid()}\n".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def worker(listener):
    stopping = False

    def on_term(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    while not stopping:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        with conn:
            serve(conn)
    print(f"worker exit {os.getpid()}", flush=True)
    os._exit(0)


def spawn(listener):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        worker(listener)
    return pid


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(os.environ["PORT"])))
listener.listen(16)
workers = {spawn(listener) for _ in range(WORKERS)}
print(f"master {os.getpid()} serving on {os.environ['PORT']} with {len(workers)} workers", flush=True)

stop = False


def on_term(*_):
    # os.wait() below is retried after a handler returns, so the handler acts itself.
    global stop
    stop = True
    listener.close()
    for w in workers:
        os.kill(w, signal.SIGTERM)


signal.signal(signal.SIGTERM, on_term)
while True:
    try:
        pid, _ = os.wait()
    except ChildProcessError:
        break
    workers.discard(pid)
    if not stop:
        new = spawn(listener)
        workers.add(new)
        print(f"respawned {new}", flush=True)
print("master exit", flush=True)

"""A master with forked HTTP workers that reloads, for the tests of issue 21.

    reloading_server.py WORKDIR [WORKERS]      (PORT from the environment)

The master binds the port and forks WORKERS (default 1) workers, printing
"worker started PID" for each; it writes WORKDIR/ready once the first is forked.
A worker answers every request with "ok pid PID" and prints "tick PID" every 0.2 s.

* SIGHUP to the master: a rolling restart, as uvicorn's supervisor does: a new
  worker is forked, then each old one gets SIGTERM and leaves ("worker exit PID").
  With IGNORE_HUP=1 the master's handler does nothing.
* WATCH=FILE: the master looks at FILE's mtime every 0.05 s; a later mtime than the
  one it saw does what SIGHUP does (Werkzeug's and Django's stat reloaders compare
  ``st_mtime`` the same way).
* SIGTTIN: one more worker; SIGTTOU: one worker fewer (SIGTERM to the newest).
* MUTE_AFTER_RELOAD=1: the workers forked after the first reload never accept a
  connection and never tick (a replacement that does not work).
* SIGTERM to the master: SIGTERM to every worker, wait for them, exit 0.
"""

import os
import signal
import socket
import sys
import threading
import time

WORKDIR = sys.argv[1]
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
MUTE = os.environ.get("MUTE_AFTER_RELOAD") == "1"
WATCH = os.environ.get("WATCH")


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(listener):
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def tick():
        while not stopping.wait(0.2):
            say(f"tick {os.getpid()}")

    threading.Thread(target=tick, daemon=True).start()
    listener.settimeout(0.1)
    while not stopping.is_set():
        try:
            conn, _ = listener.accept()
        except (socket.timeout, InterruptedError):
            continue
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            body = f"ok pid {os.getpid()}\n".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    say(f"worker exit {os.getpid()}")
    os._exit(0)


def mute():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        signal.pause()


def fork(listener, muted):
    pid = os.fork()
    if pid == 0:
        for s in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
            signal.signal(s, signal.SIG_DFL)
        mute() if muted else serve(listener)
    say(f"worker started {pid}")
    return pid


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(os.environ["PORT"])))
    listener.listen(16)
    workers = [fork(listener, False) for _ in range(WORKERS)]
    pending = []
    for s in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGTERM):
        signal.signal(s, lambda signum, _: pending.append(signum))
    if os.environ.get("IGNORE_HUP") == "1":
        signal.signal(signal.SIGHUP, lambda *_: None)
    seen = os.stat(WATCH).st_mtime if WATCH else None
    reloaded = False
    with open(os.path.join(WORKDIR, "ready"), "w"):
        pass
    while True:
        if WATCH:
            now = os.stat(WATCH).st_mtime
            if now > seen:
                seen = now
                pending.append(signal.SIGHUP)
        while pending:
            signum = pending.pop(0)
            if signum == signal.SIGHUP:
                say("reloading")
                old, reloaded = workers, True
                workers = [fork(listener, MUTE) for _ in old]
                for pid in old:
                    os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
            elif signum == signal.SIGTTIN:
                workers.append(fork(listener, MUTE and reloaded))
            elif signum == signal.SIGTTOU and len(workers) > 1:
                pid = workers.pop()
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            elif signum == signal.SIGTERM:
                for pid in workers:
                    os.kill(pid, signal.SIGTERM)
                for pid in workers:
                    os.waitpid(pid, 0)
                say("master exit")
                sys.exit(0)
        time.sleep(0.05)


if __name__ == "__main__":
    main()

"""A small threaded HTTP server with a slow endpoint, for the traffic tests.

    traffic_server.py MODE      (PORT and SLOW_SECONDS come from the environment)

``/slow`` answers after SLOW_SECONDS (default 1.5), ``/`` at once. On SIGTERM:

* ``drain`` stops accepting and closes its listening socket (new connections are
  refused from then on; one that arrived in between is reset), lets every request
  in progress finish, prints "drained N" and exits 0;
* ``drop``  has no handler: the kernel ends it, cutting whatever is in progress;
* ``keep``  prints "ignoring SIGTERM" and goes on serving (accepting new requests).
"""

import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
SLOW = float(os.environ.get("SLOW_SECONDS", "1.5"))
finished = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global finished
        if self.path.startswith("/slow"):
            time.sleep(SLOW)
        body = f"{self.path} done by pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        with lock:
            finished += 1

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads
    block_on_close = True


server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)
if MODE in ("drain", "keep"):
    # Python runs handlers in the main thread only, and a SIGTERM the kernel hands to
    # a request thread would leave a main thread blocked on a lock asleep: block
    # SIGTERM here (the server's threads inherit the mask) and take it with sigwait.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
elif MODE != "drop":
    sys.exit(f"unknown mode {MODE!r}")

loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
loop.start()
print(f"serving on {server.server_address[1]} pid {os.getpid()}", flush=True)
if MODE == "drop":
    threading.Event().wait()  # until the kernel ends the process
while MODE == "keep":
    signal.sigwait({signal.SIGTERM})
    print("ignoring SIGTERM", flush=True)
signal.sigwait({signal.SIGTERM})
# Stop the accept loop (a connection made meanwhile waits in the backlog, and is
# reset when the listener closes), close the listener, so new connections are
# refused from here on, then wait for the requests in progress.
server.shutdown()
server.socket.close()
server.server_close()
print(f"drained {finished}", flush=True)

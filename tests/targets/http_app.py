"""A tiny HTTP server with an exit route and a graceful-stop signal.

Usage: http_app.py WORKDIR PORT

GET /        -> 200 "ok" (for the ready check)
GET /exit/N  -> os._exit(N) in the middle of the request (no answer, no cleanup)
GET /redirect/PORT -> 302 to http://127.0.0.1:PORT/ (another server)
SIGUSR1      -> SystemExit(0) from the handler: a graceful stop (finally runs)

Writes its pid to WORKDIR/pid before serving, so a command trigger can signal it.
Cleanup prints "[pid N] finally ran".
"""

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

workdir, port = sys.argv[1], int(sys.argv[2])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/exit/"):
            os._exit(int(self.path.rsplit("/", 1)[1]))
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{int(self.path.rsplit('/', 1)[1])}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format, *args):  # keep the output to our own lines
        pass


def on_usr1(signum, frame):
    raise SystemExit(0)


signal.signal(signal.SIGUSR1, on_usr1)
with open(os.path.join(workdir, "pid"), "w") as fh:
    fh.write(str(os.getpid()))
server = HTTPServer(("127.0.0.1", port), Handler)
try:
    print(f"[pid {os.getpid()}] serving on {port}")
    server.serve_forever()
finally:
    print(f"[pid {os.getpid()}] finally ran")

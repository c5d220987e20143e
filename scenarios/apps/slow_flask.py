"""A Flask app with a slow route, for watching requests in flight at shutdown.

Routes:

* ``/``     -> ``ok pid N``
* ``/slow`` -> sleeps SLOW_SECONDS (default 1.5) with a plain ``time.sleep``, then
  ``slow done pid N``. While it sleeps the request is "in flight": accepted, read,
  not yet answered. Whether it still gets its answer depends on how the server is
  stopped.

An atexit hook prints ``atexit: flushed (pid N)``: it stands for the cleanup a real
app does on the way out (flushing a buffer, closing a pool). It only runs when the
interpreter shuts down normally, so the pid in the line says which process got to
run it.

Two ways to serve it (from this folder):

* ``PORT=8000 python slow_flask.py`` -- the Werkzeug development server, one
  process, reloader off, a thread per request;
* ``python -m gunicorn -c gunicorn_conf.py -w 2 -b 127.0.0.1:8000 slow_flask:app``
  -- a gunicorn master and sync workers; each worker imports this module itself
  (no --preload), so each registers its own atexit hook.
"""

import atexit
import os
import sys
import time

from flask import Flask

SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "1.5"))

app = Flask(__name__)


def say(text):
    # One write per line, flushed: several processes share the pipe, and print()'s
    # separate newline write could interleave with another process's line; the
    # line must also be out before a SIGKILL can come.
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def flush_on_exit():
    say("atexit: flushed")


@app.route("/")
def index():
    return f"ok pid {os.getpid()}\n"


@app.route("/slow")
def slow():
    time.sleep(SLOW_SECONDS)
    return f"slow done pid {os.getpid()}\n"


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    say(f"serving on {port}")
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False, threaded=True)

"""gunicorn server hooks that print one line each, so the log shows which hook ran
in which process.

Use with ``python -m gunicorn -c gunicorn_conf.py ... slow_flask:app``. Settings
(workers, bind, timeouts) stay on the command line; this file only defines hooks.

Where each hook runs (gunicorn's arbiter.py and workers/base.py):

* ``when_ready``   -- master, once the listening socket is open;
* ``post_worker_init`` -- worker, once it has loaded the app ("worker ready": one
  line per worker, so a scenario can wait until every worker can take a request);
* ``worker_int``   -- worker, on SIGINT or SIGQUIT (the "quick" stop), just before
  it calls ``sys.exit(0)``;
* ``worker_abort`` -- worker, on SIGABRT (the master sends it when a worker misses
  its ``--timeout``);
* ``worker_exit``  -- worker, in the ``finally`` around its run loop, so on every
  exit that unwinds Python (not on SIGKILL);
* ``on_exit``      -- master, last thing before it exits.
"""

import os
import sys


def say(text):
    # One write per line, flushed: several processes share the pipe, and print()'s
    # separate newline write could interleave with another process's line; the
    # line must also be out before a SIGKILL can come.
    sys.stdout.write(f"gunicorn {text} (pid {os.getpid()})\n")
    sys.stdout.flush()


def when_ready(server):
    say("ready")


def post_worker_init(worker):
    say("worker ready")


def worker_int(worker):
    say("worker_int")


def worker_abort(worker):
    say("worker_abort")


def worker_exit(server, worker):
    say("worker_exit")


def on_exit(server):
    say("on_exit")

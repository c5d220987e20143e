"""A Celery app with one long task, for a prefork worker on a redis broker.

Run from this folder with
``celery -A celery_app worker --pool prefork --concurrency 2``, with BROKER_URL
(default ``redis://127.0.0.1:6379/0``) and QUEUE (default ``celery``: a queue of
its own per worker when several share one broker).

* As soon as the worker is ready it sends itself one ``long_task`` (the
  ``worker_ready`` signal, in the main process), so one pool child is busy with a
  task when the stop comes; the task prints ``task started (pid N)``, sleeps
  TASK_SECONDS (default 2) and prints ``task done (pid N)``. The main process prints
  ``task accepted by pid N (pid MAIN)`` once the pool has taken the job.
* ``worker_shutdown`` (the main process, when the worker stops) prints
  ``worker_shutdown (pid N)``; ``worker_process_shutdown`` (each pool child on its
  way out) prints ``worker_process_shutdown (pid N)``.
* an atexit hook prints ``atexit: flushed (pid N)`` when an interpreter ends
  normally (the pool children are forked and end with ``os._exit``: not there).
* with RESULT_BACKEND (a redis URL) the task's states go there, STARTED included
  (``task_track_started``), and with TASK_ID_FILE the task's id is written to that
  file once it is sent: ``check_task.py`` reads what became of it.
"""

import atexit
import os
import sys
import time

from celery import Celery
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown
from celery.worker.request import Request

BROKER_URL = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/0")
TASK_SECONDS = float(os.environ.get("TASK_SECONDS", "2"))
QUEUE = os.environ.get("QUEUE", "celery")
RESULT_BACKEND = os.environ.get("RESULT_BACKEND") or None
TASK_ID_FILE = os.environ.get("TASK_ID_FILE")

app = Celery("celery_app", broker=BROKER_URL, backend=RESULT_BACKEND)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # one task per child at a time, none reserved ahead: the task's fate is its own
    worker_prefetch_multiplier=1,
    task_default_queue=QUEUE,
    task_track_started=RESULT_BACKEND is not None,
)


def say(text):
    # One write per line, flushed: the main process and the children share the pipe.
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def flush_on_exit():
    say("atexit: flushed")


class AnnouncedRequest(Request):
    """A task request that says when the pool has taken it.

    ``on_accepted`` runs in the main process once a pool child has acknowledged the
    job; before that moment a cold shutdown may not know which child to terminate
    (measured: a SIGQUIT within ~10 ms of ``task started`` let the task finish, 1 run
    in 3). ``task accepted by pid N`` is the line to wait for before stopping.
    """

    def on_accepted(self, pid, time_accepted):
        super().on_accepted(pid, time_accepted)
        say(f"task accepted by pid {pid}")


@app.task(Request=AnnouncedRequest)
def long_task(seconds):
    say("task started")
    time.sleep(seconds)
    say("task done")
    return seconds


@worker_ready.connect
def send_one_task(sender, **kwargs):
    sent = long_task.delay(TASK_SECONDS)
    if TASK_ID_FILE:
        with open(TASK_ID_FILE + ".tmp", "w") as fh:
            fh.write(sent.id)
        os.rename(TASK_ID_FILE + ".tmp", TASK_ID_FILE)  # whole, or not there
    say(f"worker ready, task sent to {QUEUE}")


@worker_shutdown.connect
def on_worker_shutdown(sender, **kwargs):
    say("worker_shutdown")


@worker_process_shutdown.connect
def on_process_shutdown(pid, exitcode, **kwargs):
    say("worker_process_shutdown")

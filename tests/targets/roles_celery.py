"""A Celery app with one task that says which pool process ran it: ``where`` returns
``[pid, billiard process index]``. The broker (and result backend) is ``$BROKER``.

Each pool child writes ``pool child PID up`` on its stdout once it has told the main
process it takes work (billiard's WORKER_UP message): a test that waits for both lines
sends its first task to a pool whose children are all up, so which child gets it is
decided by the pool's own order and not by which child started faster."""

import os

from celery import Celery
from celery.concurrency import asynpool

app = Celery("roles_celery", broker=os.environ.get("BROKER"), backend=os.environ.get("BROKER"))
app.conf.worker_hijack_root_logger = False

_send_up = asynpool.Worker.on_loop_start


def _announce_up(self, pid):
    _send_up(self, pid)  # the WORKER_UP message, written to the main process's pipe
    os.write(1, f"pool child {pid} up\n".encode())


asynpool.Worker.on_loop_start = _announce_up


@app.task
def where():
    import billiard.process

    return [os.getpid(), getattr(billiard.process.current_process(), "index", None)]

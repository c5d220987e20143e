"""A Celery app with one task that says which pool process ran it: ``where`` returns
``[pid, billiard process index]``. The broker (and result backend) is ``$BROKER``."""

import os

from celery import Celery

app = Celery("roles_celery", broker=os.environ.get("BROKER"), backend=os.environ.get("BROKER"))
app.conf.worker_hijack_root_logger = False


@app.task
def where():
    import billiard.process

    return [os.getpid(), getattr(billiard.process.current_process(), "index", None)]

"""The check after a Celery case: what became of the task, as its result backend says.

Usage: ``python check_task.py REDIS_PORT TASK_ID_FILE [QUEUE]``

Reads the task's id from TASK_ID_FILE (``celery_app.py`` writes it when it sends the
task) and its state from the redis result backend on 127.0.0.1:REDIS_PORT, database 0
(the key ``celery-task-meta-ID``, Celery's redis backend's JSON). Prints one line:

* ``SUCCESS``: the task completed and its result was stored (exit 0);
* ``STARTED (stuck)``: a pool child started it and nobody ever recorded its end
  (``task_track_started`` stores STARTED; exit 1);
* ``FAILURE: <exception>``: the worker recorded a failure, such as
  ``WorkerLostError`` when the pool child running it died (exit 1);
* ``RETRY``: the worker marked it for a retry (Celery 5.5's cold shutdown cancels the
  running task so: "cancelled by Celery"; exit 1);
* ``no state (lost)``: the backend holds nothing for it (exit 1);
* anything else the backend holds, as it is (exit 1).

With QUEUE, the line ends with how many messages that queue (the broker's list, in
the same redis) still holds, "; N queued": whether anything is left to run the task
again. (No name, pid or port in the line: it is the matrix's cell, which repeated
runs share when it is the same.)

It speaks RESP by hand: no client library between it and the server.
"""

import json
import socket
import sys


def command(port, *words):
    """One redis command; its answer: a string, an integer, or None (a nil)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        out = b"*%d\r\n" % len(words)
        for word in words:
            raw = word.encode()
            out += b"$%d\r\n%s\r\n" % (len(raw), raw)
        conn.sendall(out)
        reader = conn.makefile("rb")
        head = reader.readline()
        if head.startswith(b"$-1"):
            return None
        if head.startswith(b":"):
            return int(head[1:])
        if not head.startswith(b"$"):
            raise SystemExit(f"unexpected answer from redis: {head!r}")
        return reader.read(int(head[1:])).decode()


def main(argv):
    if len(argv) not in (3, 4):
        print(f"usage: {argv[0]} REDIS_PORT TASK_ID_FILE [QUEUE]", file=sys.stderr)
        return 2
    port = int(argv[1])
    queued = ""
    if len(argv) == 4:
        queued = f"; {command(port, 'LLEN', argv[3])} queued"
    try:
        with open(argv[2]) as fh:
            task_id = fh.read().strip()
    except FileNotFoundError:
        print("no task id: the task was never sent" + queued)
        return 1
    meta = command(port, "GET", f"celery-task-meta-{task_id}")
    if meta is None:
        print("no state (lost)" + queued)
        return 1
    state = json.loads(meta)
    status = state.get("status")
    words = {"SUCCESS": "SUCCESS", "STARTED": "STARTED (stuck)"}.get(status, str(status))
    if status == "FAILURE":
        words = f"FAILURE: {(state.get('result') or {}).get('exc_type', '?')}"
    print(words + queued)
    return 0 if status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

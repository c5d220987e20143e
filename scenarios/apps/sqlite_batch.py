"""A batch job that writes its rows to SQLite in one transaction: is the batch kept
when the job is stopped mid-way?

The job opens ``DB`` (an SQLite file), creates the table ``items`` (committed), then
begins one transaction and inserts ``ROWS`` rows in it. With the rows inserted and
the transaction still open, it prints ``[pid N] batch: ROWS rows in an open
transaction`` and waits (the "work" still to do before the commit). The commit is in
a ``finally:`` clause, as a job that wants to keep what it did so far writes it:

* SIGINT (Ctrl-C): CPython raises KeyboardInterrupt in the main thread; it unwinds
  through ``finally``, which commits, and prints ``[pid N] finally: committed ROWS
  rows``. The batch is kept;
* SIGTERM, SIGHUP, SIGKILL: Python installs no handler for the first two and none
  can be installed for the last; the kernel ends the process between two
  instructions, no Python code runs, the transaction is never committed. SQLite's
  atomic commit (https://www.sqlite.org/atomiccommit.html) guarantees the file is
  then as it was before the transaction began: the next connection finds the hot
  rollback journal and rolls it back. The table is there, empty, and the database
  passes ``PRAGMA integrity_check``.

``check_batch.py`` is the check that looks at the file afterwards.

Usage: ``python sqlite_batch.py DB ROWS``.
"""

import os
import sqlite3
import sys
import time


def say(text):
    print(f"[pid {os.getpid()}] {text}", flush=True)


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} DB ROWS", file=sys.stderr)
        return 2
    db, rows = argv[1], int(argv[2])
    # isolation_level None: the module starts no transaction of its own; BEGIN and
    # COMMIT below are the only ones
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    conn.execute("BEGIN")
    try:
        conn.executemany("INSERT INTO items (payload) VALUES (?)", ((f"item {i} " + "x" * 200,) for i in range(rows)))
        say(f"batch: {rows} rows in an open transaction")
        while True:  # the rest of the job; a signal interrupts the sleep at once (PEP 475)
            time.sleep(0.5)
    finally:
        conn.execute("COMMIT")
        say(f"finally: committed {rows} rows")


if __name__ == "__main__":
    sys.exit(main(sys.argv))

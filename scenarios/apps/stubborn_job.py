"""A batch job that will not be stopped: the kind a deploy leaves hanging.

``python stubborn_job.py``: it sets SIGTERM to SIG_IGN ("never cut a batch in half"),
registers an atexit callable that waits for an upload acknowledgement that never
comes, prints ``job running (pid P)`` and then works for ever (one step a 0.1 s
sleep).

* SIGTERM: ignored; the job runs on.
* SIGINT: KeyboardInterrupt ends the work loop (``work loop ended``); the interpreter
  then calls the atexit callable, which prints ``flush: waiting for the upload ack``
  and waits for ever.
* SIGHUP, SIGKILL: the kernel's default, the job dies at once.
"""

import atexit
import os
import signal
import sys
import threading
import time

_ack = threading.Event()  # nothing ever sets it: the uploader is gone


def say(text):
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def flush_results():
    say("flush: waiting for the upload ack")
    _ack.wait()
    say("flush: done")


def main():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:  # before the ready line: a SIGINT right after it still ends the loop here
        say("job running")
        while True:
            time.sleep(0.1)
    finally:
        say("work loop ended")


if __name__ == "__main__":
    main()

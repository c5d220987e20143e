"""Signal dispositions and threads, as the process itself and the kernel see them.

Usage: probe_signals.py

Prints the Python-level handler of SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGRTMIN+7, the
kernel's view (SigBlk/SigIgn/SigCgt and Threads of /proc/self/status), the thread
count and whether sys.excepthook is sys.__excepthook__; then installs handlers (and
tries one invalid signal number), printing what signal.signal returned; then prints
the dispositions again. Nothing printed depends on the pid or on memory addresses.
"""

import signal
import sys
import threading

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGRTMIN + 7]


def describe(handler):
    return getattr(handler, "__qualname__", None) or str(handler)


def report(tag):
    for signum in SIGNALS:
        print(tag, int(signum), describe(signal.getsignal(signum)))
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("SigBlk:", "SigIgn:", "SigCgt:", "Threads:")):
                print(tag, line.strip())
    print(tag, "active threads", threading.active_count())
    print(tag, "excepthook is __excepthook__", sys.excepthook is sys.__excepthook__)


def on_term(signum, frame):
    pass


report("before")
print("returned", describe(signal.signal(signal.SIGTERM, on_term)))
print("returned", describe(signal.signal(signal.SIGHUP, signal.SIG_IGN)))
print("returned", describe(signal.signal(signal.SIGTERM, signal.SIG_DFL)))
try:
    signal.signal(4242, signal.SIG_DFL)
except ValueError as exc:
    print("refused", exc)
report("after")

"""atexit callables of several shapes, for the Python probe's tests.

Usage: probe_hooks.py MODE [READY_FILE | FILE]

Prints "pid N" first, then per MODE:

* order       registers hook_a, hook_b, hook_c in that order (and imports logging,
              whose logging.shutdown the standard library registers);
* raise       hook_a, hook_bad (raises ValueError("bad hook")), hook_c;
* unregister  hook_a, hook_gone (unregistered again), hook_c registered with the
              decorator form; prints whether the decorator returned the function;
* names       a functools.partial, a bound method, a lambda and a callable object;
* hang        hook_a, then hook_hang, which creates READY_FILE and sleeps 60 s;
* closefds    closes every descriptor above 2 (as a daemon does), opens FILE (which
              gets the lowest free number), registers hook_a, and at the end prints
              how many bytes FILE received.

Each hook prints "<name> ran".
"""

import atexit
import functools
import os
import sys
import time

mode = sys.argv[1]
print("pid", os.getpid(), flush=True)


def hook_a():
    time.sleep(0.002)
    print("hook_a ran")


def hook_b():
    time.sleep(0.002)
    print("hook_b ran")


def hook_c():
    time.sleep(0.002)
    print("hook_c ran")


def hook_bad():
    print("hook_bad ran")
    raise ValueError("bad hook")


def hook_gone():
    print("hook_gone ran")


def hook_hang(ready):
    print("hook_hang ran", flush=True)
    open(ready, "w").close()
    time.sleep(60)


def hook_args(*args, **kwargs):
    print("hook_args ran", args, kwargs)


class Server:
    def close(self):
        print("Server.close ran")


class Closer:
    def __call__(self):
        print("Closer ran")


if mode == "order":
    import logging  # noqa: F401  (the standard library registers logging.shutdown)

    atexit.register(hook_a)
    atexit.register(hook_b)
    atexit.register(hook_c)
elif mode == "raise":
    atexit.register(hook_a)
    atexit.register(hook_bad)
    atexit.register(hook_c)
elif mode == "unregister":
    atexit.register(hook_a)
    atexit.register(hook_gone)
    atexit.unregister(hook_gone)

    @atexit.register
    def hook_decorated():
        print("hook_decorated ran")

    print("decorator returned the function:", callable(hook_decorated) and hook_decorated.__name__ == "hook_decorated")
elif mode == "names":
    atexit.register(functools.partial(hook_args, 1), 2, key="v")
    atexit.register(Server().close)
    atexit.register(lambda: print("lambda ran"))
    atexit.register(Closer())
elif mode == "hang":
    atexit.register(hook_a)
    atexit.register(hook_hang, sys.argv[2])
elif mode == "closefds":
    os.closerange(3, 1024)
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("app fd", fd)
    atexit.register(hook_a)
    os.close(fd)
    print("app file bytes", os.path.getsize(sys.argv[2]))
else:
    sys.exit(f"unknown mode {mode}")
print("main done", flush=True)

"""An ASGI app whose lifespan startup starts a daemon multiprocessing child.

Served from this folder with
``python -m uvicorn asgi_daemon_child:app --host 127.0.0.1 --port PORT``.

The child (``daemon=True``) only sleeps. The standard library ends daemon children
in ``multiprocessing``'s own atexit function: when the server process ends normally
the child is terminated, when it dies by a signal the child is left running (its
parent is gone and nobody stops it). The app's own atexit hook prints
``atexit: app (pid N)``, and lifespan shutdown prints ``lifespan shutdown (pid N)``.
This is the set-up of uvicorn issue #2289 ("Child Processes Not Terminating with
Uvicorn 0.29.0").
"""

import atexit
import multiprocessing
import os
import signal
import sys
import time


def say(text):
    # one write per line, flushed: the line must be out before a signal can end us
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def on_exit():
    say("atexit: app")


def child_main():
    # A forked child inherits the server's signal handlers: put the defaults back, so
    # that multiprocessing's terminate() (SIGTERM) ends it as it would any plain child.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    say("child started")
    while True:
        time.sleep(3600)


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            multiprocessing.Process(target=child_main, daemon=True, name="daemon-child").start()
            say("lifespan startup")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            say("lifespan shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    body = f"ok pid {os.getpid()}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

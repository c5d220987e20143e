"""A framework-free ASGI app with a slow route and lifespan events.

Served from this folder with
``python -m uvicorn slow_asgi:app --host 127.0.0.1 --port PORT``.

* ``/``     -> ``ok pid N``
* ``/slow`` -> ``await asyncio.sleep(SLOW_SECONDS)`` (default 1.5), then
  ``slow done pid N``: an in-flight request that does not block the event loop.
* lifespan: ``startup`` prints ``lifespan startup (pid N)``; ``shutdown`` prints
  ``lifespan shutdown: closed pool (pid N)``. The shutdown event is where an ASGI app
  releases its resources; the server sends it only on a graceful stop.
* an atexit hook prints ``atexit: flushed (pid N)`` when the interpreter shuts down
  normally.
"""

import asyncio
import atexit
import os
import sys

SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "1.5"))


def say(text):
    # One write per line, flushed: several processes share the pipe, and print()'s
    # separate newline write could interleave with another process's line; the
    # line must also be out before a SIGKILL can come.
    sys.stdout.write(f"{text} (pid {os.getpid()})\n")
    sys.stdout.flush()


@atexit.register
def flush_on_exit():
    say("atexit: flushed")


async def lifespan(receive, send):
    # The server sends lifespan.startup once, and lifespan.shutdown when it stops
    # gracefully; each must be acknowledged with "<event>.complete".
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            say("lifespan startup")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            say("lifespan shutdown: closed pool")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def reply(send, status, text):
    body = text.encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return  # no websockets here
    path = scope["path"]
    if path == "/":
        await reply(send, 200, f"ok pid {os.getpid()}\n")
    elif path == "/slow":
        await asyncio.sleep(SLOW_SECONDS)
        await reply(send, 200, f"slow done pid {os.getpid()}\n")
    else:
        await reply(send, 404, "not found\n")

"""A tiny ASGI app for uvicorn and hypercorn (``roles_asgi:app``), to name their processes.

Every process that imports it (the processes that serve) creates ``$ROLES_DIR/app-PID``,
so a test knows which processes served without asking the probe. ``bye`` is an atexit
callable: the matrix shows where it ran.
"""

import atexit
import os

MARKS = os.environ.get("ROLES_DIR")
if MARKS:
    open(os.path.join(MARKS, "app-%d" % os.getpid()), "w").close()


def bye():
    print("[pid %d] bye" % os.getpid(), flush=True)


atexit.register(bye)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b"served by %d\n" % os.getpid()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

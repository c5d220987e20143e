"""Article 1's experiment: a Flask debug server with three atexit hooks.

Like the article's app: the debug server (Werkzeug reloader on, so two processes),
three atexit hooks that print a line, sleep, print another line, and a route that
calls os._exit(0) for any user other than Tom. Each line carries the PID of the
process that printed it, so the matrix can say *which* process ran a hook, the detail
the article's explanation got wrong.

Environment: PORT (default 5000), HOST (default 127.0.0.1), ATEXIT_SLEEP (seconds
each hook sleeps, default 1 as in the article), USE_RELOADER (default 1).
"""

import atexit
import os
import time

from flask import Flask

app = Flask(__name__)
PAUSE = float(os.environ.get("ATEXIT_SLEEP", "1"))


def say(text):
    role = "child" if os.environ.get("WERKZEUG_RUN_MAIN") == "true" else "main"
    print(f"[pid {os.getpid()} {role}] {text}", flush=True)


def shutdown():
    say("shutdown: Ready to close...")
    time.sleep(PAUSE)
    say("shutdown: You can doing some action in here.")


def shutdown2():
    say("shutdown2: start")
    time.sleep(PAUSE)
    say("shutdown2: end")


def shutdown3():
    say("shutdown3: start")
    time.sleep(PAUSE)
    say("shutdown3: end")


# Registered first to last; atexit runs them last to first.
atexit.register(shutdown)
atexit.register(shutdown2)
atexit.register(shutdown3)


@app.route("/")
def index():
    return "Hi"


@app.route("/user/<username>")
def user(username):
    if username == "Tom":
        return "Hello Tom"
    say(f"user {username}: calling os._exit(0)")
    os._exit(0)


if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        debug=True,
        use_reloader=os.environ.get("USE_RELOADER", "1") == "1",
    )

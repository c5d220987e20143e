"""A whole Django project in one file: settings, URLs and views, for runserver.

Served from this folder with ``python django_site.py runserver 127.0.0.1:PORT``
(the autoreloader on, Django's default) or with ``--noreload``.

* ``/``     -> ``ok pid N``
* ``/slow`` -> sleeps SLOW_SECONDS (default 1.5), then ``slow done pid N``: a
  request in flight, served in a thread of the serving process.
* an atexit hook prints ``atexit: flushed (pid N RUN_MAIN=...)`` when the
  interpreter shuts down normally. With the autoreloader the same file runs twice:
  in the reloader parent, which watches files and restarts the server (RUN_MAIN
  unset), and in the serving child (RUN_MAIN=true); each registers its own hook, and
  the line says which one ran it.
"""

import atexit
import os
import sys
import time

from django.conf import settings
from django.http import HttpResponse
from django.urls import path

SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "1.5"))

settings.configure(
    DEBUG=True,
    SECRET_KEY="shutdown-probe-scenario-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
)


def say(text):
    # One write per line, flushed: the parent and the child share the pipe.
    sys.stdout.write(f"{text} (pid {os.getpid()} RUN_MAIN={os.environ.get('RUN_MAIN', '-')})\n")
    sys.stdout.flush()


@atexit.register
def flush_on_exit():
    say("atexit: flushed")


def index(request):
    return HttpResponse(f"ok pid {os.getpid()}\n", content_type="text/plain")


def slow(request):
    time.sleep(SLOW_SECONDS)
    return HttpResponse(f"slow done pid {os.getpid()}\n", content_type="text/plain")


urlpatterns = [path("", index), path("slow", slow)]


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

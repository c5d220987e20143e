"""A one-file Django project: ``roles_django.py runserver 127.0.0.1:PORT``.

The page creates ``$ROLES_DIR/served-PID``: the process that served it, known without
asking the probe. ``bye`` is an atexit callable.
"""

import atexit
import os
import sys

from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(DEBUG=True, SECRET_KEY="roles", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["127.0.0.1"],
                   INSTALLED_APPS=[], MIDDLEWARE=[], DATABASES={})


def index(request):
    marks = os.environ.get("ROLES_DIR")
    if marks:
        open(os.path.join(marks, "served-%d" % os.getpid()), "w").close()
    return HttpResponse("served by %d\n" % os.getpid())


urlpatterns = [path("", index)]


def bye():
    print("[pid %d] bye" % os.getpid(), flush=True)


if __name__ == "__main__":
    atexit.register(bye)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

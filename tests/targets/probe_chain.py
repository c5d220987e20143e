"""What the app sees of sitecustomize, atexit and sys.excepthook.

Usage: probe_chain.py [--import-sitecustomize]

With --import-sitecustomize, prints the file of the module `import sitecustomize`
returns and the marker the app's own sitecustomize set (APP_MARKER, and the env var
APP_SITECUSTOMIZE). Always prints the types of atexit.register and sys.excepthook and
registers one atexit callable, which prints "hook ran".
"""

import atexit
import os
import sys

if "--import-sitecustomize" in sys.argv:
    import sitecustomize

    print("sitecustomize", sitecustomize.__file__)
    print("marker", getattr(sitecustomize, "APP_MARKER", None), os.environ.get("APP_SITECUSTOMIZE"))
print("atexit.register is", type(atexit.register).__name__)
print("sys.excepthook is", type(sys.excepthook).__name__)


def hook():
    print("hook ran")


atexit.register(hook)

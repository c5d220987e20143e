"""Fails during start-up: prints a reason on stderr and exits 2 before it is ready.

Usage: exit_early.py WORKDIR
"""

import sys

print("fatal: cannot read config.ini: no such file", file=sys.stderr)
sys.exit(2)

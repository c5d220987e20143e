"""Peer: pytest-xprocess, driven outside a pytest session.

    python benchmarks/contenders/xprocess_run.py --target trivial|flask --cases N --out FILE.jsonl [--stamp-dir D]

Per case: ``XProcess(config, rootdir).ensure(name, Starter)`` then
``getinfo(name).terminate()``, then the plugin's own cleanup
(``XProcess._force_clean_up()``, what its ``pytest_unconfigure`` calls).

Outside pytest, from its source (xprocess/xprocess.py, version 1.x): ``XProcess``
only stores ``config`` to keep the log file handles in ``config._extlogfiles``, so
any object with a ``__dict__`` stands in for it; ``rootdir`` must be a
``py.path.local`` (pytest ships ``py.path``). How it works:

- ``ensure()`` starts the target with stdout and stderr redirected to a log file in
  ``rootdir/NAME/``, writes the pid to ``rootdir/NAME/xprocess.PID``, then reads
  the log line by line for the pattern, sleeping 0.1 s whenever no new line is
  there yet.
- ``terminate()`` SIGTERMs the process and its children (psutil), then
  ``psutil.wait_procs()``, which with psutil >= 7.2 on Linux waits on a pidfd (woken
  by the kernel; older psutil polled with sleeps of up to 40 ms).

Each case gets its own NAME: ``ensure()`` treats the pid in an existing
``xprocess.PID`` file as "maybe still running" and would signal whatever process
has that pid now, which after many cases can be a stranger.

"noticed" is the moment ``terminate()`` returns.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import types
from itertools import count

from _common import TIMEOUT, CaseOutcome, Target, parse_args, run, skip

try:
    import py  # the py.path shim that pytest installs
    from xprocess import ProcessStarter, XProcess
except ImportError:  # a benchmark-only dependency
    XProcess = None


class _QuietLog:
    """XProcess prints every log line it reads by default."""

    def debug(self, msg, *args) -> None:
        pass


_names = count(1)


def one_case(target: Target, env: dict[str, str], rootdir) -> CaseOutcome:
    class Starter(ProcessStarter):
        pattern = target.ready
        args = target.argv
        timeout = TIMEOUT
        terminate_on_interrupt = True

    Starter.env = env
    name = f"case-{next(_names)}"
    xproc = XProcess(types.SimpleNamespace(), rootdir, log=_QuietLog())
    try:
        pid, _log = xproc.ensure(name, Starter, persist_logs=False)
        status = xproc.getinfo(name).terminate(timeout=TIMEOUT)  # 1: terminated
        noticed = time.monotonic()
        if status != 1:
            raise RuntimeError(f"terminate() returned {status} (1 means terminated)")
        return CaseOutcome(pid, noticed, None)
    finally:
        # Failed or interrupted half-way: kill what it started. After a terminate()
        # psutil has reaped the target already, and poll() says so.
        for res in xproc.resources:
            if res.popen is not None and res.popen.poll() is None:
                res.popen.kill()
                res.popen.wait()
        xproc._force_clean_up()  # close its log handles, as the plugin's unconfigure does


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, "pytest-xprocess contender")
    if XProcess is None:
        skip("pytest-xprocess not installed (pip install -e '.[bench]')")
    folder = tempfile.mkdtemp(prefix="bench-xprocess-")
    try:
        rootdir = py.path.local(folder)
        return run(args, lambda target, env: one_case(target, env, rootdir))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Peer: mirakuru, the process executor pytest-postgresql and friends use.

    python benchmarks/contenders/mirakuru_run.py --target trivial|flask --cases N --out FILE.jsonl [--stamp-dir D]

Per case: ``OutputExecutor(argv, banner=READY, stdout=PIPE, stderr=PIPE)``,
``.start()`` (returns once the banner appeared on either stream), ``.stop()``.

How mirakuru works, from its source (mirakuru/base.py, output.py, version 3.x):

- ``start()`` polls the output pipes and, while the banner is not there, sleeps
  ``sleep`` seconds (default 0.1) between looks.
- ``stop()`` sends ``stop_signal`` (default SIGTERM) to the process group (every
  target is started with ``setsid``), then checks ``Popen.poll()`` every ``sleep``
  seconds until the process is gone, then scans every process of the machine for
  its marker environment variable (``_kill_all_kids``) and signals any it finds,
  then reaps. It raises ``ProcessFinishedWithError`` unless the exit status is 0
  or ``-stop_signal`` (the default ``expected_returncode``): the trivial target
  exits 0, the Flask app dies by SIGTERM (-15), both are accepted.

Defaults are used throughout (``sleep=0.1``): the point is what a user gets.

"noticed" is the moment ``stop()`` returns, i.e. when the API tells its caller the
process is gone. The record also has "detected": the first ``Popen.poll()`` inside
``stop()`` that saw the exit (by wrapping ``running()``), which shows how much of
the latency is the polling interval and how much the scan that follows.
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import TIMEOUT, CaseOutcome, Target, parse_args, run, skip

try:
    from mirakuru import OutputExecutor
except ImportError:  # a benchmark-only dependency
    OutputExecutor = None


if OutputExecutor is not None:

    class TimedExecutor(OutputExecutor):
        """OutputExecutor that remembers when a poll first saw the process gone
        after ``stop()`` began. Behaviour is unchanged."""

        stopping = False
        detected: float | None = None

        def running(self) -> bool:
            alive = super().running()
            if self.stopping and not alive and self.detected is None:
                self.detected = time.monotonic()
            return alive


def one_case(target: Target, env: dict[str, str]) -> CaseOutcome:
    # mirakuru searches the banner in chunks of output, not line by line: (?m) keeps
    # ^ and $ anchored at line ends as for the other contenders
    executor = TimedExecutor(target.argv, banner="(?m)" + target.ready, timeout=TIMEOUT, envvars=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        executor.start()
        pid = executor.process.pid
        executor.stopping = True
        executor.stop()  # SIGTERM (mirakuru's default stop_signal)
        noticed = time.monotonic()
        return CaseOutcome(pid, noticed, None, {"detected": executor.detected})
    finally:
        if executor.process is not None:  # failed or interrupted half-way
            executor.kill()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, "mirakuru contender")
    if OutputExecutor is None:
        skip("mirakuru not installed (pip install -e '.[bench]')")
    return run(args, one_case)


if __name__ == "__main__":
    sys.exit(main())

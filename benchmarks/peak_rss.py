"""Run the shutdown-probe command line in this process, then report its peak RSS.

    python benchmarks/peak_rss.py REPORT.json run SCENARIO.toml --repeat 1000 ...

Everything after REPORT.json is passed to ``shutdown_probe.cli.main``, exactly what
the ``shutdown-probe`` console script calls. When it returns (or fails), this writes
``{"rc": ..., "maxrss_kib": ...}`` to REPORT.json, where ``maxrss_kib`` is
``getrusage(RUSAGE_SELF).ru_maxrss``: the kernel's high-water mark of this process's
resident set (every thread), in KiB. RUSAGE_SELF never includes children, so the
targets the harness starts do not count, only the harness itself.
"""

from __future__ import annotations

import json
import resource
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: peak_rss.py REPORT.json SHUTDOWN-PROBE-ARGS...", file=sys.stderr)
        return 2
    report, cli_args = argv[0], argv[1:]
    from shutdown_probe.cli import main as cli_main

    rc: int | None = None
    try:
        rc = cli_main(cli_args)
        return rc
    finally:  # also when the harness is interrupted: the peak so far is still a fact
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(report, "w") as f:
            json.dump({"rc": rc, "maxrss_kib": maxrss}, f)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

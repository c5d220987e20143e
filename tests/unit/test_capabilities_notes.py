"""Which capabilities a run notes as missing (capabilities.lacking): the flags that say
"yes" when present, and the namespace entries that describe what is there."""

from __future__ import annotations

from shutdown_probe.capabilities import lacking


def test_described_entries_are_missing_only_when_they_say_so():
    info = {"pidfd": "yes", "subreaper": "prctl(PR_SET_CHILD_SUBREAPER) failed: Operation not permitted",
            "pid_namespace": "a new PID namespace (root)", "tini": "0.19.0 (/usr/bin/tini)",
            "dumb_init": "not installed"}
    assert lacking(info) == {"subreaper": info["subreaper"], "dumb_init": "not installed"}
    assert lacking({"pid_namespace": "no: this machine allows no PID namespace (...)"}) == {
        "pid_namespace": "no: this machine allows no PID namespace (...)"}

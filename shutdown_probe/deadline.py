"""The stop deadline of a case: when its processes must be gone.

One owner for one number: the path's wait, a stop profile's second signal and the
orphan wait all ask this value, so they cannot disagree about when time is up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class StopDeadline:
    """``stop_timeout`` seconds from the trigger (``t0``, monotonic)."""

    t0: float
    stop_timeout: float

    @property
    def at(self) -> float:
        """The deadline: the trigger plus ``stop_timeout``."""
        return self.t0 + self.stop_timeout

    def after_sequence(self) -> float:
        """The deadline once a stop sequence has run (call when it ends). A sequence
        may outlast stop_timeout (its grace); what it leaves (a supervisord stop waits
        for its own process only, the PID-1 launcher exits just after PID 1) gets
        stop_timeout from the sequence's end."""
        return max(self.at, time.monotonic() + self.stop_timeout)

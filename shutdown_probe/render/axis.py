"""The time axis of a case's timeline: seconds after the trigger, in SVG units.

A case's axis runs from ``lo`` to ``hi`` seconds after the trigger (:func:`axis_for`),
and a time ``t`` is drawn at ``x_at(t, lo, hi) = PLOT_LEFT + (t - lo) / (hi - lo) *
PLOT_WIDTH`` in the SVG's viewBox units (rounded to 0.1), ``t`` clamped to the axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VIEW_WIDTH = 1000  # the SVG's viewBox width
PLOT_LEFT = 170  # lane labels to the left of this
PLOT_RIGHT = 16  # free space right of the axis's end
PLOT_WIDTH = VIEW_WIDTH - PLOT_LEFT - PLOT_RIGHT
MIN_END = 0.1  # the axis shows at least 0.1 s after the trigger


@dataclass
class Axis:
    lo: float
    hi: float
    step: float

    def x(self, t: float) -> float:
        return x_at(t, self.lo, self.hi)

    def ticks(self) -> list[tuple[float, str]]:
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9))
        first, last = math.ceil(self.lo / self.step - 1e-9), math.floor(self.hi / self.step + 1e-9)
        return [(k * self.step, f"{k * self.step:.{decimals}f}") for k in range(first, last + 1)]


def x_at(t: float, lo: float, hi: float) -> float:
    """Where ``t`` seconds after the trigger is drawn, on an axis from ``lo`` to ``hi``."""
    t = min(max(t, lo), hi)
    return round(PLOT_LEFT + (t - lo) / (hi - lo) * PLOT_WIDTH, 1)


def _nice(raw: float) -> float:
    """1, 2 or 5 times a power of ten, the nearest to ``raw`` in ratio."""
    base = 10.0 ** math.floor(math.log10(raw))
    best = min((1, 2, 5, 10), key=lambda m: abs(math.log(raw / (m * base))))
    return float(f"{best * base:.12g}")


def axis_for(times: list[float]) -> Axis:
    """The axis for a case whose marks fall at ``times`` (seconds after the trigger).

    ``step`` (between ticks) is 1, 2 or 5 x 10^k, the nearest to a tenth of the span
    from ``min(0, earliest)`` to ``max(MIN_END, latest)``. ``hi`` is the latest time
    plus 2 % of that span, rounded up to a whole step; ``lo`` is 0, or the earliest
    time less 2 % of the span when something (a request in flight) came before the
    trigger.
    """
    early = min([0.0, *times])
    late = max([MIN_END, *times])
    span = late - early
    step = _nice(span / 10)
    hi = float(f"{math.ceil((late + span * 0.02) / step - 1e-9) * step:.12g}")
    lo = float(f"{early - span * 0.02:.12g}") if early < 0 else 0.0
    return Axis(lo, hi, step)

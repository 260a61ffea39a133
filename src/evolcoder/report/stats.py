"""Intervals for pass@1 over a benchmark's tasks.

Greedy pass@1 is a proportion: ``passed`` of ``n`` tasks. Its 95% interval is the Wilson score
interval, which stays inside [0, 1] and behaves at 0 and n passes (where the normal approximation
gives a zero-width interval), the usual case for a 135M model.
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def wilson_interval(passed: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``passed`` successes in ``n`` trials, as fractions."""
    if n <= 0:
        raise ValueError("wilson_interval needs at least one task")
    if not 0 <= passed <= n:
        raise ValueError(f"passed must be between 0 and n ({n}), got {passed}")
    p = passed / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two closed intervals share a point."""
    return a[0] <= b[1] and b[0] <= a[1]

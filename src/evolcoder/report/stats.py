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


def sign_test(gained: int, lost: int) -> float:
    """Exact two-sided sign test: the chance, under no difference (each discordant task as likely
    gained as lost, p = 0.5), of a split at least as uneven as ``gained`` vs ``lost``.

    The tasks both models pass or both fail say nothing about which is better and are left out.
    With no discordant task the p-value is 1.
    """
    if gained < 0 or lost < 0:
        raise ValueError(f"counts cannot be negative: {gained}, {lost}")
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1))
    return min(1.0, 2 * tail / 2**n)


def discordant(rates_a: dict[str, float], rates_b: dict[str, float]) -> tuple[list[str], list[str], list[str]]:
    """The tasks both answered, those b passes more often than a (gained) and those less often (lost),
    each in a's order; the rates are each task's share of samples passed."""
    common = [task for task in rates_a if task in rates_b]
    gained = [task for task in common if rates_b[task] > rates_a[task]]
    lost = [task for task in common if rates_b[task] < rates_a[task]]
    return common, gained, lost

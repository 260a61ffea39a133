"""pass@k with the unbiased estimator of Chen et al. (2021)."""

from __future__ import annotations

from collections.abc import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) is correct.

    1 - C(n-c, k) / C(n, k), computed as a product to stay exact-ish for large n.
    """
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c})")
    if n - c < k:
        return 1.0
    missing = 1.0
    for i in range(n - c + 1, n + 1):
        missing *= 1.0 - k / i
    return 1.0 - missing


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over tasks, each given as (n samples, c correct)."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    return sum(values) / len(values) if values else 0.0


def default_ks(min_n: int, wanted: Iterable[int] = (1, 10, 100)) -> list[int]:
    """The k values that every task has enough samples for."""
    return [k for k in wanted if k <= min_n]

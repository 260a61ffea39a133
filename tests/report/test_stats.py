from __future__ import annotations

import pytest

from evolcoder.report.stats import overlap, sign_test, wilson_interval


@pytest.mark.parametrize(
    ("passed", "n", "low", "high"),
    [
        # the roots of Wilson's quadratic (p_hat - p)^2 = z^2 p (1 - p) / n, solved separately;
        # 0/10 -> [0, 0.2775] and 5/10 -> [0.2366, 0.7634] are the usual textbook values
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (5, 10, 0.236593, 0.763407),
        (1, 164, 0.001077, 0.033726),
        (20, 164, 0.080348, 0.180859),
    ],
)
def test_wilson_interval_matches_known_values(passed: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(passed, n)
    assert got == pytest.approx((low, high), abs=1e-5)


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_overlap() -> None:
    assert overlap((0.1, 0.3), (0.3, 0.5))
    assert not overlap((0.1, 0.2), (0.3, 0.5))


@pytest.mark.parametrize(("gained", "lost"), [(0, 0), (1, 0), (3, 2), (10, 1), (2, 14), (30, 30), (0, 25), (60, 35)])
def test_sign_test_is_the_exact_binomial_test(gained: int, lost: int) -> None:
    from scipy.stats import binomtest

    expected = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    assert sign_test(gained, lost) == pytest.approx(expected, rel=1e-12)
    assert sign_test(gained, lost) == sign_test(lost, gained)


def test_sign_test_known_values() -> None:
    assert sign_test(0, 5) == pytest.approx(2 / 32)  # one of the two most extreme splits, doubled
    assert sign_test(1, 9) == pytest.approx(2 * 11 / 1024)
    assert sign_test(4, 4) == 1.0
    with pytest.raises(ValueError):
        sign_test(-1, 3)

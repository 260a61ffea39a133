"""pass@k: the unbiased estimator of Chen et al. (2021), checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from evolcoder.eval.passk import default_ks, mean_pass_at_k, pass_at_k


def comb_formula(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), with exact integers (math.comb is 0 when k > n-c)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def test_pass_at_1_is_the_fraction_correct() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-12)


def test_pass_at_5_of_10_with_3_correct() -> None:
    # C(7, 5) = 21, C(10, 5) = 252
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252, abs=1e-12)


def test_all_correct_is_one() -> None:
    for k in range(1, 6):
        assert pass_at_k(5, 5, k) == 1.0


def test_none_correct_is_zero() -> None:
    for n in (1, 5, 10, 200):
        for k in (1, n // 2 or 1, n):
            assert pass_at_k(n, 0, k) == 0.0


def test_too_few_wrong_to_fill_k_is_one() -> None:
    # 10 samples, 7 correct: any 4 drawn include a correct one.
    assert pass_at_k(10, 7, 4) == 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(5, 1, 6), (1, 0, 2), (3, 3, 4), (0, 0, 1)])
def test_k_larger_than_n_raises(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, -1)])
def test_invalid_counts_raise(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_matches_the_comb_formula_over_a_grid() -> None:
    for n in range(1, 31):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(comb_formula(n, c, k), abs=1e-9), (n, c, k)


def test_matches_the_comb_formula_for_large_n() -> None:
    for n, c, k in [(200, 1, 1), (200, 13, 10), (200, 100, 100), (1000, 3, 100), (1000, 999, 1)]:
        assert pass_at_k(n, c, k) == pytest.approx(comb_formula(n, c, k), rel=1e-9, abs=1e-12)


def test_monotone_in_k_and_c() -> None:
    n = 20
    for c in range(n + 1):
        values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        assert values == sorted(values)
    for k in (1, 5, 10):
        values = [pass_at_k(n, c, k) for c in range(n + 1)]
        assert values == sorted(values)


def test_mean_pass_at_k_averages_tasks() -> None:
    counts = [(4, 2), (4, 1)]
    assert mean_pass_at_k(counts, 1) == pytest.approx((0.5 + 0.25) / 2)
    expected_2 = (comb_formula(4, 2, 2) + comb_formula(4, 1, 2)) / 2
    assert mean_pass_at_k(counts, 2) == pytest.approx(expected_2)
    assert mean_pass_at_k(iter(counts), 1) == pytest.approx(0.375)  # any iterable


def test_mean_pass_at_k_of_nothing_is_zero() -> None:
    assert mean_pass_at_k([], 1) == 0.0


def test_mean_pass_at_k_raises_when_a_task_has_too_few_samples() -> None:
    with pytest.raises(ValueError):
        mean_pass_at_k([(10, 3), (1, 1)], 2)


def test_default_ks_keeps_the_ks_every_task_can_afford() -> None:
    assert default_ks(1) == [1]
    assert default_ks(9) == [1]
    assert default_ks(10) == [1, 10]
    assert default_ks(100) == [1, 10, 100]
    assert default_ks(4, [1, 2, 5]) == [1, 2]
    assert default_ks(0) == []

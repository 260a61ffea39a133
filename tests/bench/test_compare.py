"""Comparator: EvalPlus 0.3.1's output comparison (exact, float tolerance, special oracles)."""

from __future__ import annotations

import math

import pytest

from evolcoder.bench.compare import NOT_NONE_ENTRY_POINTS, SET_EQUAL_ENTRY_POINTS, Comparator, is_floats
from evolcoder.execution.values import NumpyBool, NumpyFloat, NumpyInt, Opaque, decode, encode


def fresh(entry: str = "f", dataset: str = "humaneval", atol: float = 0.0) -> Comparator:
    return Comparator(dataset, entry, atol)


# ---------------------------------------------------------------------------------------------
# exact match
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "exp"),
    [
        (3, 3),
        ("abc", "abc"),
        ([1, [2, 3]], [1, [2, 3]]),
        ((1, "a"), (1, "a")),
        ({"a": 1}, {"a": 1}),
        ({1, 2}, {2, 1}),
        (None, None),
        (True, True),
        (1, True),  # Python equality: 1 == True, as in EvalPlus
        (2, 2.0),  # exact equality across int and float
    ],
)
def test_exact_match_passes(out: object, exp: object) -> None:
    assert fresh().matches((), out, exp) is True


@pytest.mark.parametrize(
    ("out", "exp"),
    [
        (3, 4),
        ("abc", "abd"),
        ([1, 2], [2, 1]),
        ([1, 2], (1, 2)),  # a list is not a tuple
        (None, 0),
        (None, []),
        ("1", 1),
        ({"a": 1}, {"a": 2}),
    ],
)
def test_exact_mismatch_fails(out: object, exp: object) -> None:
    assert fresh().matches((), out, exp) is False


def test_no_tolerance_for_int_results() -> None:
    # Neither the task's atol nor a float expected value: ints must match exactly.
    assert fresh().matches((), [1, 2], [1, 2]) is True
    assert fresh().matches((), 10**20 + 1, 10**20) is False


def test_opaque_values_never_match() -> None:
    comparator = fresh()
    assert comparator.matches((), Opaque("x.Liar"), 1) is False
    assert comparator.matches((), Opaque("x.Liar"), None) is False


# ---------------------------------------------------------------------------------------------
# float tolerance
# ---------------------------------------------------------------------------------------------


def test_is_floats() -> None:
    assert is_floats(1.0)
    assert is_floats([1.0, 2.5])
    assert is_floats((0.5,))
    assert not is_floats(1)
    assert not is_floats([])
    assert not is_floats([1.0, 2])
    assert not is_floats("1.0")
    assert not is_floats(None)
    assert not is_floats([[1.0]])


def test_float_expected_switches_tolerance_on() -> None:
    assert fresh().matches((), 1.0 + 1e-9, 1.0) is True
    assert fresh().matches((), [0.1 + 0.2, 1.0], [0.3, 1.0]) is True
    assert fresh().matches((), (1.0 + 5e-7,), (1.0,)) is True
    assert fresh().matches((), 1.0 + 1e-4, 1.0) is False


def test_tolerance_is_atol_1e6_plus_rtol_1e7() -> None:
    # np.allclose: |out - exp| <= atol + rtol * |exp|
    assert fresh().matches((), 1e6 + 0.09, 1e6) is True  # 1e-6 + 0.1 > 0.09
    assert fresh().matches((), 1e6 + 0.2, 1e6) is False
    assert fresh().matches((), 2e-6, 1e-6) is True  # within atol
    assert fresh().matches((), 3e-6, 1e-6) is False


def test_tolerance_stays_on_for_later_inputs() -> None:
    comparator = fresh()
    assert comparator.matches((), [1.0000001, 2], [1, 2]) is False  # ints expected: exact
    comparator = fresh()
    assert comparator.matches((), 0.5, 0.5) is True  # a float expected: tolerance on
    assert comparator.atol == 1e-6
    assert comparator.matches((), [1.0000001, 2], [1, 2]) is True  # still on
    assert comparator.matches((), 5.0000001, 5) is False  # float vs int: types differ


def test_a_non_float_expected_does_not_switch_tolerance_on() -> None:
    comparator = fresh()
    assert comparator.matches((), [1.0, 2], [1.0, 2]) is True
    assert comparator.atol == 0
    assert comparator.matches((), [1.0000001, 2], [1.0, 2]) is False


def test_type_mismatch_under_tolerance_fails() -> None:
    comparator = fresh()
    assert comparator.matches((), (1.0000001,), [1.0]) is False  # tuple vs list
    assert comparator.matches((), [1.0000001], [1.0]) is True
    assert comparator.matches((), 1, 1.0000001) is False  # int vs float
    assert comparator.matches((), "1.0", 1.0) is False
    assert comparator.matches((), None, 1.0) is False


def test_length_mismatch_under_tolerance_fails() -> None:
    comparator = fresh()
    assert comparator.matches((), [1.0, 2.0], [1.0, 2.0, 3.0]) is False
    assert comparator.matches((), [1.0, 2.0, 3.0], [1.0, 2.0]) is False


def test_task_atol_applies_from_the_start() -> None:
    comparator = fresh(atol=1e-4)
    assert comparator.matches((), 1.00005, 1.0) is True
    assert comparator.matches((), 1.0005, 1.0) is False
    # lists of floats too
    assert comparator.matches((), [1.00005], [1.0]) is True


def test_nan_and_inf() -> None:
    assert fresh().matches((), math.inf, math.inf) is True
    assert fresh().matches((), -math.inf, math.inf) is False
    assert fresh().matches((), math.nan, math.nan) is False  # as np.allclose: nan != nan


def test_numpy_float_against_float() -> None:
    """A numpy float64 result: equal values pass exactly; under tolerance its type differs."""
    value = decode(encode_numpy_float(1.0))
    assert type(value) is NumpyFloat
    assert fresh().matches((), value, 1.0) is True
    near = decode(encode_numpy_float(1.0000001))
    assert fresh().matches((), near, 1.0) is False  # type(out) is not float, as in EvalPlus
    assert fresh().matches((), NumpyFloat(1.0000001), 1.0) is False
    assert fresh().matches((), 1.0000001, 1.0) is True  # a real float is fine


def test_numpy_int_and_bool_compare_by_value() -> None:
    assert fresh().matches((), NumpyInt(3), 3) is True
    assert fresh().matches((), NumpyInt(3), 4) is False
    assert fresh().matches((), NumpyBool(True), True) is True
    assert fresh().matches((), NumpyBool(False), True) is False


def encode_numpy_float(x: float) -> object:
    import numpy as np

    return encode(np.float64(x))


def test_matches_never_raises() -> None:
    comparator = fresh(entry="find_zero", atol=1e-6)
    assert comparator.matches(([1, 2],), "not a number", 0.5) is False
    assert comparator.matches((), [1.0], 1.0) is False


# ---------------------------------------------------------------------------------------------
# special oracles
# ---------------------------------------------------------------------------------------------


def test_find_zero_accepts_any_root() -> None:
    # (x - 1)(x - 2)(x - 3) = -6 + 11x - 6x^2 + x^3
    args = ([-6, 11, -6, 1],)
    comparator = fresh(entry="find_zero", atol=1e-4)
    assert comparator.matches(args, 1.0, 1.0) is True
    assert comparator.matches(args, 2.0, 1.0) is True  # another root than the reference's
    assert comparator.matches(args, 3.0 + 1e-6, 1.0) is True  # |p(x)| within atol
    assert comparator.matches(args, 2.5, 1.0) is False  # equal to nothing, not a root
    assert comparator.matches(args, 1.1, 1.0) is False


def test_find_zero_oracle_is_for_humaneval_only() -> None:
    args = ([-6, 11, -6, 1],)
    assert Comparator("mbpp", "find_zero", 1e-4).matches(args, 2.0, 1.0) is False


def test_set_equality_task_accepts_reordered_output() -> None:
    assert "similar_elements" in SET_EQUAL_ENTRY_POINTS
    comparator = Comparator("mbpp", "similar_elements", 0.0)
    args = ((3, 4, 5, 6), (5, 7, 4, 10))
    assert comparator.matches(args, (4, 5), (4, 5)) is True
    assert comparator.matches(args, (5, 4), (4, 5)) is True
    assert comparator.matches(args, [5, 4], (4, 5)) is True  # compared as sets
    assert comparator.matches(args, (4,), (4, 5)) is False
    assert comparator.matches(args, (4, 5, 6), (4, 5)) is False
    assert comparator.matches(args, None, (4, 5)) is False


def test_set_equality_is_for_mbpp_only() -> None:
    comparator = Comparator("humaneval", "similar_elements", 0.0)
    assert comparator.matches((), (5, 4), (4, 5)) is False


def test_not_none_task() -> None:
    assert "check_str" in NOT_NONE_ENTRY_POINTS
    # The expected value is the reference's "returned something other than None".
    comparator = Comparator("mbpp", "check_str", 0.0)
    assert comparator.matches(("annie",), "a match object", True) is True
    assert comparator.matches(("annie",), 0, True) is True  # not None, even if falsy
    assert comparator.matches(("annie",), None, True) is False
    assert comparator.matches(("dawood",), None, False) is True
    assert comparator.matches(("dawood",), "something", False) is False
    # a bool result is compared as it is
    assert comparator.matches(("annie",), True, True) is True
    assert comparator.matches(("annie",), False, True) is False
    assert comparator.matches(("dawood",), False, False) is True


def test_are_equivalent_accepts_anything() -> None:
    comparator = Comparator("mbpp", "are_equivalent", 0.0)
    assert comparator.matches((36, 57), "whatever", False) is True


def test_sum_div_accepts_zero() -> None:
    comparator = Comparator("mbpp", "sum_div", 0.0)
    assert comparator.matches((8,), 0, 7) is True
    assert comparator.matches((8,), 7, 7) is True
    assert comparator.matches((8,), 6, 7) is False


def test_digit_distance_oracle() -> None:
    comparator = Comparator("mbpp", "digit_distance_nums", 0.0)
    assert comparator.matches((123, 256), 7, 999) is True  # |1-2|+|2-5|+|3-6| = 7
    assert comparator.matches((123, 256), 8, 999) is False

"""An output equal to the expected one on the wire matches without decoding (judge.expected_wire).

The shortcut must give exactly the comparator's verdict, and leave the comparator in the same state
(the float tolerance EvalPlus switches on): checked here over every pair of a varied set of values,
as the sandbox would send them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from evolcoder.bench.compare import SPECIAL_ORACLES, Comparator, is_floats
from evolcoder.eval.judge import _NO_WIRE, Expected, expected_wire
from evolcoder.execution.values import Digest, NumpyBool, Opaque, decode, digest_of, encode_output


class _Thing:
    pass


VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    1 << 70,
    0.0,
    -0.0,
    1.0,
    1.5,
    2.0,
    1e-7,
    float("nan"),
    float("inf"),
    "",
    "1",
    "a\tb\n",
    "é",
    [],
    [1, 2],
    [1.0, 2.0],
    [True, 2],
    [1, 2.0000001],
    (1, 2),
    (1.0, 2.0),
    (),
    [[1, 2], (3, [4])],
    [(1, 2), (1, 2)],
    [[1, 2], [3, 4]],
    [float("nan")],
    [1, float("inf")],
    {1, 2},
    frozenset({1}),
    {"a": 1},
    {1: "a"},
    b"ab",
    1 + 2j,
    np.float64(1.5),
    np.float64(2.0),
    np.int64(2),
    np.bool_(True),
    _Thing(),
    [_Thing()],
    "x" * 70_000,  # long text: a digest on the wire where equality decides
    "x" * 69_999 + "y",
    "x" * 10_000,
    b"x" * 70_000,
    b"x" * 69_999 + b"y",
    list(range(70_000)),  # a long list of numbers: a digest on the wire where no tolerance can apply
    [float(i) for i in range(70_000)],  # equal to it under ==, and digested alike
    list(range(69_999)) + [70_000],
    tuple(range(70_000)),
    list(range(69_999)) + [True],  # not numbers alone: travels whole
    [0.5] * 70_000,
]


def _sent(value, digest_text=False, digest_numbers=False):
    """What the harness reads for a returned value: encoded in the sandbox, through JSON."""
    return json.loads(json.dumps(encode_output(value, digest_text, digest_numbers)))


def _expected(value):
    """An expected output as the harness holds it: decoded from what the reference sent."""
    return decode(_sent(value))


@pytest.mark.parametrize("entry_point", ["tri", "similar_elements"])
@pytest.mark.parametrize("atol", [0.0, 1e-4])
def test_a_wire_match_is_exactly_a_comparator_match(entry_point, atol):
    shortcuts = 0
    for exp_value in VALUES:
        expected = _expected(exp_value)
        wire = expected_wire(Expected([expected], [0.0]))[0]
        exact = Comparator("mbpp", entry_point, atol).equality_decides
        digest_numbers = exact and atol == 0 and not is_floats(expected)  # as judge_io asks
        for out_value in VALUES:
            sent = _sent(out_value, exact, digest_numbers)
            reference = Comparator("mbpp", entry_point, atol)
            verdict = reference.matches([1], decode(sent), expected)
            shortcut = Comparator("mbpp", entry_point, atol)
            if shortcut.equality_decides and wire is not _NO_WIRE and sent == wire:
                shortcuts += 1
                assert shortcut.matched_equal(expected) is verdict is True, (out_value, exp_value)
                assert shortcut.atol == reference.atol, (out_value, exp_value)
    if entry_point == "tri":
        assert shortcuts > len(VALUES) / 2  # the shortcut is taken for most equal outputs


def test_only_plain_expected_outputs_have_a_wire_form():
    plain = [None, True, 3, 1.5, "x", [1, 2], (1, (2, [3])), [], (), np.float64(1.5), np.int64(2)]
    for value in plain:
        assert expected_wire(Expected([_expected(value)], [0.0]))[0] is not _NO_WIRE, value
    not_plain = [
        1 << 70,  # travels tagged, as hex
        float("nan"),
        float("inf"),
        [1, float("nan")],
        (float("-inf"),),
        {1, 2},
        {"a": 1},
        b"x",
        1j,
        NumpyBool(True),
        Opaque("thing"),
        [Opaque("thing")],
    ]
    for value in not_plain:
        assert expected_wire(Expected([value], [0.0]))[0] is _NO_WIRE, value


def test_long_text_is_compared_by_digest_exactly():
    long_text = "ab" * 40_000
    wire = expected_wire(Expected([long_text, long_text.encode(), "ab"], [0.0] * 3))
    assert wire[0] == _sent(long_text, True) == {"h": digest_of(long_text).hexdigest, "n": len(long_text) + 5}
    assert wire[1] == _sent(long_text.encode(), True) != wire[0]
    assert wire[2] == "ab"
    comparator = Comparator("humaneval", "string_sequence", 0.0)
    assert comparator.matches([1], decode(_sent(long_text, True)), long_text)
    assert not comparator.matches([1], decode(_sent(long_text[:-1] + "c", True)), long_text)
    assert not comparator.matches([1], decode(_sent(long_text.encode(), True)), long_text)


def test_the_tolerance_switches_on_as_with_matches():
    expected = _expected([0.5, 1.5])
    comparator = Comparator("humaneval", "tri", 0.0)
    assert comparator.matched_equal(expected) is True
    assert comparator.atol == 1e-6
    assert comparator.matches([1], 1.0000000001, 1.0)  # as after matches() on the same expected


def test_special_oracles_never_take_the_shortcut():
    for dataset, entry_points in SPECIAL_ORACLES.items():
        for entry_point in entry_points:
            assert not Comparator(dataset, entry_point, 0.0).equality_decides
    assert Comparator("humaneval", "tri", 0.0).equality_decides
    assert Comparator("mbpp", "find_zero", 0.0).equality_decides  # find_zero's oracle is HumanEval's
    # Equal outputs that the special oracles judge otherwise: sets of unhashables, "not None" checks.
    assert not Comparator("mbpp", "similar_elements", 0.0).matches([1], [[1]], [[1]])


def test_long_lists_of_numbers_are_compared_by_digest_where_no_tolerance_can_apply():
    ints, floats = list(range(70_000)), [float(i) for i in range(70_000)]
    wire = expected_wire(Expected([ints, (1, 2)], [0.0] * 2))
    assert (
        wire[0]
        == _sent(ints, True, True)
        == _sent(floats, True, True)
        == {"h": digest_of(ints).hexdigest, "n": 560_013}
    )
    assert wire[0] != _sent(tuple(ints), True, True)
    assert wire[0] != _sent(ints[:-1] + [1], True, True)
    assert _sent(ints, True, False) == ints  # the sandbox digests it only when asked
    # A set with a float output may switch a tolerance on: its long lists keep their whole wire.
    assert expected_wire(Expected([ints, 0.5], [0.0] * 2))[0] == ints
    assert expected_wire(Expected([ints, 0.5], [0.0] * 2, floats_at=[1]))[0] == ints
    # Wrong in the last number: the digests differ, and the comparator says no from either side.
    comparator = Comparator("humaneval", "make_a_pile", 0.0)
    assert not comparator.matches([1], decode(_sent(ints[:-1] + [1], True, True)), ints)
    assert comparator.matches([1], decode(_sent(floats, True, True)), ints)


def test_a_huge_expected_output_has_its_digest_as_wire():
    digest = Digest("ab" * 32, 9_000_000)
    assert expected_wire(Expected([digest], [0.0]))[0] == {"h": "ab" * 32, "n": 9_000_000}

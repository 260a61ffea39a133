"""Is a returned value right? EvalPlus 0.3.1's rules, applied in the trusted harness.

Both values arrive as plain data (see execution.values), so no comparison here can run code the
candidate wrote. Rules: exact equality; else, when a tolerance applies (the task's ``atol``, or
1e-6 once a float result has been seen), same type, same length and ``numpy.allclose``; plus the
special oracles EvalPlus defines for a few tasks whose answers are not unique.
"""

from __future__ import annotations

import math
from typing import Any

from evolcoder.execution.values import Digest, digest_of

# MBPP+ tasks whose outputs are compared as sets, and those only checked for "not None".
SET_EQUAL_ENTRY_POINTS = frozenset(
    {
        "similar_elements",
        "find_char_long",
        "common_in_nested_lists",
        "extract_singly",
        "larg_nnum",
        "intersection_array",
        "find_dissimilar",
        "Diff",
    }
)
NOT_NONE_ENTRY_POINTS = frozenset({"check_str", "text_match_three", "text_starta_endb"})
# Every task with a rule of its own in Comparator._matches, per dataset.
SPECIAL_ORACLES = {
    "humaneval": frozenset({"find_zero"}),
    "mbpp": frozenset({"are_equivalent", "sum_div", "surface_Area", "digit_distance_nums"})
    | SET_EQUAL_ENTRY_POINTS
    | NOT_NONE_ENTRY_POINTS,
}


def is_floats(x: Any) -> bool:
    """A float, or a non-empty list or tuple of floats (EvalPlus's trigger for a tolerance)."""
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _pyramid_surface(base_edge: float, height: float) -> int:
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 2 * base_edge * slant)


def _digit_distance(a: int, b: int) -> int:
    sa, sb = str(a), str(b)
    width = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(width), sb.zfill(width), strict=True))


class Comparator:
    """Compares the outputs of one solution, input by input.

    Stateful on purpose: as in EvalPlus, once an expected float has switched the tolerance on,
    it stays on for the following inputs of the same run.
    """

    def __init__(self, dataset: str, entry_point: str, atol: float) -> None:
        self.dataset = dataset
        self.entry_point = entry_point
        self.atol = atol

    def matches(self, args: Any, out: Any, expected: Any) -> bool:
        try:
            return self._matches(args, out, expected)
        except Exception:
            return False

    @property
    def equality_decides(self) -> bool:
        """No special oracle: an output that equals the expected one (``==``, neither a Digest) matches."""
        return self.entry_point not in SPECIAL_ORACLES.get(self.dataset, ())

    def matched_equal(self, expected: Any) -> bool:
        """``matches`` for an output known to equal ``expected`` where ``equality_decides``: True, and
        the tolerance switched on as ``matches`` would."""
        self._note_floats(expected)
        return True

    def matched_all_equal(self, any_floats: bool) -> bool:
        """``matched_equal`` for each of a run of expected outputs in turn: True, and the tolerance
        switched on if ``any_floats`` (any of them ``is_floats``, as ``matches`` would have noted)."""
        if self.atol == 0 and any_floats:
            self.atol = 1e-6
        return True

    def _note_floats(self, exp: Any) -> None:
        if self.atol == 0 and is_floats(exp):
            self.atol = 1e-6

    def _matches(self, args: Any, out: Any, exp: Any) -> bool:
        if isinstance(out, Digest) != isinstance(exp, Digest):
            out_digest, exp_digest = digest_of(out), digest_of(exp)  # a huge value on one side only
            return out_digest is not None and out_digest == exp_digest
        entry = self.entry_point
        exact = out == exp
        if self.dataset == "humaneval" and entry == "find_zero":
            return abs(_poly(*args, out)) <= self.atol
        if self.dataset == "mbpp":
            if entry == "are_equivalent":
                exact = True
            elif entry == "sum_div":
                exact = exact or out == 0
            elif entry == "surface_Area":
                exact = exact or abs(out - _pyramid_surface(*args)) <= self.atol
            elif entry == "digit_distance_nums":
                exact = exact or out == _digit_distance(*args)
            elif entry in SET_EQUAL_ENTRY_POINTS:
                exact = set(out) == set(exp)
            elif entry in NOT_NONE_ENTRY_POINTS:
                exact = out == exp if isinstance(out, bool) else exp == (out is not None)
        self._note_floats(exp)
        if exact or self.atol == 0:
            return bool(exact)
        if type(out) is not type(exp):
            return False
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False
        import numpy as np  # here: a harness that never compares floats never pays its import

        return bool(np.allclose(out, exp, rtol=1e-07, atol=self.atol))

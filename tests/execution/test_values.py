"""Round trips of the wire format for returned values (evolcoder.execution.values).

Every round trip goes through JSON, as on the real result pipe: encode (inside the sandbox),
``json.dumps``/``json.loads``, decode (in the harness).
"""

from __future__ import annotations

import json
import math
from collections import namedtuple

import numpy as np
import pytest

from evolcoder.execution.values import (
    MAX_DEPTH,
    NumpyBool,
    NumpyFloat,
    NumpyInt,
    Opaque,
    WireError,
    decode,
    encode,
    travels_as_is,
)

BIG = 10**5000  # more digits than CPython's default int <-> str cap (4300)


def wire_round_trip(value):
    """encode -> strict JSON text -> decode, as the sandbox and the harness do it."""
    text = json.dumps(encode(value), allow_nan=False)  # no NaN/Infinity tokens on the wire
    return decode(json.loads(text))


def same(a, b) -> bool:
    """Equal, and of exactly the same types all the way down (nan equals nan, -0.0 keeps sign)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (set, frozenset)):
        if a != b:
            return False
        by_value = {x: x for x in b}
        return all(same(x, by_value[x]) for x in a)
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return False
        keys_b = {k: k for k in b}
        return all(same(k, keys_b[k]) and same(v, b[k]) for k, v in a.items())
    return a == b


ROUND_TRIPS = {
    "none": None,
    "bools": [True, False],
    "ints": [0, -1, 7, (1 << 62) - 1, -(1 << 62) + 1, 1 << 62, -(1 << 62), 1 << 63, 1 << 64],
    "floats": [0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, 0.1 + 0.2],
    "non_finite": [math.inf, -math.inf, math.nan],
    "strings": ["", "plain", "unicode ✓ — ü", "nul\x00byte", '{"t": []}', "\ud7ff"],
    "bytes": [b"", b"\x00\xff\x10", bytes(range(256))],
    "complex": [1 - 2j, complex(0.0, -0.0), complex(math.inf, -math.inf), complex(math.nan, 1)],
    "nested_tuples": ((1, (2, (3, ()))), ((),), (None,)),
    "nested_lists": [[[[]]], [1, [2, [3, [4.5, "x"]]]]],
    "empty_containers": [[], (), set(), frozenset(), {}],
    "sets": {1, "a", (2, 3), frozenset({4, 5}), None, 2.5, b"b"},
    "frozenset_of_frozensets": frozenset({frozenset(), frozenset({1, frozenset({2})})}),
    "dict_str_keys": {"a": 1, "b": [1, 2], "c": {"d": None}},
    "dict_tuple_keys": {(1, 2): "x", (3, (4, 5)): [6], (): set()},
    "dict_mixed_keys": {1: "int", "1": "str", 1.5: "float", None: 0, b"k": 1, frozenset({1}): 2},
    "dict_bool_and_int_keys": {True: "bool", 2: "int"},
    "deep_mix": {(1, "a"): [frozenset({1, 2}), {3: (4.5, None)}], "k": {b"x", b"y"}},
    "big_int": BIG,
    "big_negative_int": -BIG,
    "big_ints_in_containers": {(BIG, -BIG): [BIG + 1, {BIG}]},
    "floats_in_set": {math.inf, -math.inf, 0.5},
}


@pytest.mark.parametrize("value", list(ROUND_TRIPS.values()), ids=list(ROUND_TRIPS))
def test_round_trip_keeps_values_and_types(value):
    decoded = wire_round_trip(value)
    assert same(decoded, value)


def test_every_round_trip_is_also_direct():
    """decode(encode(x)) without JSON in between gives the same as through JSON."""
    for name, value in ROUND_TRIPS.items():
        assert same(decode(encode(value)), value), name


def test_bool_and_int_stay_distinct():
    decoded = wire_round_trip([True, 1, False, 0, 1.0, (True, 1), {False: 0}])
    assert [type(x) for x in decoded[:5]] == [bool, int, bool, int, float]
    assert decoded[5][0] is True and type(decoded[5][1]) is int
    key, value = next(iter(decoded[6].items()))
    assert key is False and type(value) is int
    assert wire_round_trip(True) is True
    assert type(wire_round_trip(1)) is int
    assert wire_round_trip(None) is None


def test_big_int_travels_as_hex_and_past_the_str_digit_cap():
    wire = encode(BIG)
    assert isinstance(wire, dict) and set(wire) == {"i"}
    assert int(wire["i"], 16) == BIG
    # JSON cannot print an int this large in decimal under the default digit cap; the tag can.
    with pytest.raises(ValueError):
        json.dumps(BIG)
    decoded = wire_round_trip(BIG)
    assert type(decoded) is int
    assert decoded == BIG
    assert decoded - BIG == 0
    assert wire_round_trip(-BIG) == -BIG
    assert wire_round_trip(BIG * BIG) == BIG * BIG


def test_small_ints_stay_plain_json_numbers():
    for x in (0, 1, -1, (1 << 62) - 1, -(1 << 62) + 1):
        assert encode(x) == x and type(encode(x)) is int
    for x in (1 << 62, -(1 << 62)):
        assert isinstance(encode(x), dict)


AS_IS = [None, True, "x{", "", 3, -(1 << 62) + 1, 1.5, -0.0, [], [1, [2.5, ["a", None, False]]], [[1] * 5] * 3]
NOT_AS_IS = [
    1 << 62,
    [1, [2, 1 << 62]],
    float("nan"),
    [float("inf")],
    (1,),
    [1, (2,)],
    [{"a": 1}],
    [{1, 2}],
    [b"x"],
    [np.int64(1)],
    [NumpyFloat(1.0)],
    [[1, 2], [3, [True, 1j]]],
]


@pytest.mark.parametrize("value", AS_IS + NOT_AS_IS, ids=repr)
def test_travels_as_is_says_whether_the_wire_form_is_the_value_itself(value):
    as_is = travels_as_is(value)
    assert as_is is any(value is v for v in AS_IS)
    if as_is:  # (False may be cautious: a numpy float in a list encodes as a float, but is not one)
        assert json.loads(json.dumps(encode(value))) == value == encode(value)
        assert json.dumps(encode(value)) == json.dumps(value)  # the same types all the way down


def test_non_finite_floats_are_tagged():
    for x in (math.inf, -math.inf, math.nan):
        wire = encode(x)
        assert isinstance(wire, dict) and set(wire) == {"f"}
    assert wire_round_trip(math.inf) == math.inf
    assert wire_round_trip(-math.inf) == -math.inf
    assert math.isnan(wire_round_trip(math.nan))


def test_numpy_float_decodes_float_equal_but_type_distinct():
    decoded = wire_round_trip(np.float64(1.5))
    assert decoded == 1.5
    assert type(decoded) is not float
    assert isinstance(decoded, NumpyFloat) and isinstance(decoded, float)
    assert repr(decoded).startswith("np.float64")
    assert wire_round_trip(np.float32(0.5)) == 0.5
    assert math.isnan(wire_round_trip(np.float64("nan")))
    assert wire_round_trip(np.float64("-inf")) == -math.inf


def test_numpy_int_and_bool():
    i = wire_round_trip(np.int64(7))
    assert i == 7 and type(i) is not int and isinstance(i, NumpyInt)
    big = wire_round_trip(np.uint64(2**64 - 1))
    assert big == 2**64 - 1 and isinstance(big, NumpyInt)
    neg = wire_round_trip(np.int8(-5))
    assert neg == -5 and isinstance(neg, NumpyInt)
    b = wire_round_trip(np.bool_(True))
    assert isinstance(b, NumpyBool)
    assert not isinstance(b, bool)
    assert b == True  # noqa: E712 - equality with the builtin is the point
    assert bool(b) is True
    f = wire_round_trip(np.bool_(False))
    assert f == False and not f  # noqa: E712
    assert f != b


def test_numpy_values_inside_containers():
    decoded = wire_round_trip([np.float64(2.0), (np.int32(3),), {"k": np.bool_(False)}])
    assert decoded == [2.0, (3,), {"k": False}]
    assert isinstance(decoded[0], NumpyFloat)
    assert isinstance(decoded[1][0], NumpyInt)
    assert isinstance(decoded[2]["k"], NumpyBool)


def test_numpy_array_is_opaque():
    decoded = wire_round_trip(np.array([1, 2, 3]))
    assert isinstance(decoded, Opaque)
    assert decoded != [1, 2, 3]
    assert not decoded == [1, 2, 3]  # noqa: SIM201 - both operators are checked on purpose


def test_user_subclass_of_numpy_float_is_read_as_float():
    class Sneaky(np.float64):
        def __eq__(self, other):
            return True

        __hash__ = np.float64.__hash__

    decoded = wire_round_trip(Sneaky(2.0))
    assert type(decoded) is float and decoded == 2.0
    assert decoded != 3.0


# ------------------------------------------------------------------------------------------------
# Subclasses of builtins: read through the base type, never through their overrides
# ------------------------------------------------------------------------------------------------


class LyingList(list):
    def __iter__(self):
        return iter([99])

    def __len__(self):
        return 0

    def __eq__(self, other):
        return True

    __hash__ = None

    def __repr__(self):
        return "[99]"


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__

    def __index__(self):
        return 99

    def __int__(self):
        return 99

    def __repr__(self):
        return "99"

    __str__ = __repr__

    def __format__(self, spec):
        return "63"


class LyingFloat(float):
    def __float__(self):
        return 99.0

    def __repr__(self):
        return "99.0"

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class LyingStr(str):
    def __str__(self):
        return "fake"

    def __repr__(self):
        return "'fake'"

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__

    def __iter__(self):
        return iter("fake")


class LyingTuple(tuple):
    def __iter__(self):
        return iter((99,))

    def __getitem__(self, i):
        return 99

    def __len__(self):
        return 1


class LyingDict(dict):
    def items(self):
        return [("fake", 99)]

    def keys(self):
        return ["fake"]

    def __iter__(self):
        return iter(["fake"])

    def __getitem__(self, key):
        return 99


class LyingSet(set):
    def __iter__(self):
        return iter([99])


class LyingFrozenset(frozenset):
    def __iter__(self):
        return iter([99])


class LyingBytes(bytes):
    def hex(self, *args):
        return "63"

    def __iter__(self):
        return iter([99])


SUBCLASSES = {
    "list": (LyingList([1, 2]), [1, 2]),
    "int": (LyingInt(5), 5),
    "float": (LyingFloat(2.5), 2.5),
    "str": (LyingStr("real"), "real"),
    "tuple": (LyingTuple((1, 2)), (1, 2)),
    "dict": (LyingDict({"a": 1}), {"a": 1}),
    "set": (LyingSet({1, 2}), {1, 2}),
    "frozenset": (LyingFrozenset({1, 2}), frozenset({1, 2})),
    "bytes": (LyingBytes(b"ab"), b"ab"),
    "nested": ([LyingList([LyingInt(1)]), (LyingStr("s"),)], [[1], ("s",)]),
}


@pytest.mark.parametrize(("value", "expected"), list(SUBCLASSES.values()), ids=list(SUBCLASSES))
def test_subclass_of_builtin_is_read_through_its_base_type(value, expected):
    decoded = wire_round_trip(value)
    assert same(decoded, expected)
    assert type(decoded) is type(expected)  # the plain builtin, not the subclass


def test_lying_int_no_longer_equals_everything():
    decoded = wire_round_trip(LyingInt(5))
    assert decoded != 6
    assert not decoded == 6  # noqa: SIM201


def test_namedtuple_becomes_a_plain_tuple():
    Point = namedtuple("Point", "x y")
    decoded = wire_round_trip(Point(1, 2))
    assert type(decoded) is tuple and decoded == (1, 2)


# ------------------------------------------------------------------------------------------------
# Opaque objects
# ------------------------------------------------------------------------------------------------


class EqualsEverything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class ClassLiar:
    """Claims to be an int through ``__class__``; the encoder must look at ``type()``."""

    __class__ = property(lambda self: int)  # type: ignore[assignment]

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def _gen():
    yield 1


OPAQUES = {
    "object": object(),
    "equals_everything": EqualsEverything(),
    "class_liar": ClassLiar(),
    "function": lambda: 1,
    "generator": _gen(),
    "map": map(str, [1]),
    "type": int,
    "range": range(3),
    "ellipsis": ...,
}


@pytest.mark.parametrize("value", list(OPAQUES.values()), ids=list(OPAQUES))
def test_unrepresentable_value_is_opaque_and_equals_nothing(value):
    decoded = wire_round_trip(value)
    assert isinstance(decoded, Opaque)
    for other in (0, 1, True, None, "", [], (), {}, set(), decoded, Opaque("x"), [1], range(3)):
        assert decoded != other
        assert not decoded == other  # noqa: SIM201
    assert not [decoded] == [Opaque("x")]  # noqa: SIM201


def test_opaque_inside_a_container_spoils_the_container():
    decoded = wire_round_trip([1, EqualsEverything()])
    assert decoded != [1, 2]
    assert decoded[1] != 2


def test_self_referential_list_is_cut_off_not_a_crash():
    x: list = [1]
    x.append(x)
    decoded = wire_round_trip(x)
    depth = 0
    node = decoded
    while isinstance(node, list):
        node = node[1]
        depth += 1
    assert isinstance(node, Opaque)
    assert depth <= MAX_DEPTH + 2


# ------------------------------------------------------------------------------------------------
# Malformed wire data (the sandbox is hostile: decode must refuse cleanly, with WireError)
# ------------------------------------------------------------------------------------------------


def _nested_lists(depth: int):
    data: list = []
    for _ in range(depth):
        data = [data]
    return data


MALFORMED = {
    "empty_object": {},
    "unknown_tag": {"zz": 1},
    "tuple_not_a_list": {"t": 5},
    "set_not_a_list": {"s": "abc"},
    "frozenset_not_a_list": {"fs": {"t": []}},
    "dict_not_pairs": {"d": [[1]]},
    "dict_pair_too_long": {"d": [[1, 2, 3]]},
    "dict_not_a_list": {"d": {"a": 1}},
    "complex_one_part": {"c": [1]},
    "complex_string_part": {"c": [1, "x"]},
    "complex_bool_part": {"c": [True, 1]},
    "numpy_unknown_kind": {"np": "complex", "v": 1},
    "not_wire_tuple": (1, 2),
    "not_wire_bytes": b"ab",
    "too_deep": _nested_lists(MAX_DEPTH + 10),
    # The cases below currently escape as ValueError/TypeError instead of WireError.
    "float_not_a_number": {"f": "abc"},
    "bytes_not_hex": {"b": "zz"},
    "int_not_hex": {"i": "xyz"},
    "set_of_unhashable": {"s": [[1]]},
    "dict_unhashable_key": {"d": [[[1], 2]]},
    "numpy_int_from_list": {"np": "int", "v": [1]},
    "numpy_int_from_string": {"np": "int", "v": "12"},
    "numpy_int_from_float": {"np": "int", "v": 1.5},
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_decode_rejects_malformed_wire_data(data):
    with pytest.raises(WireError):
        decode(data)


def test_set_of_hashable_list_subclass_is_refused_cleanly():
    """A candidate may return a set holding a hashable ``list`` subclass; its wire form holds a
    list inside a set, which decode must refuse with WireError (or the encoder make opaque)."""

    class HashableList(list):
        def __hash__(self):
            return 0

    wire = json.loads(json.dumps(encode({HashableList([1])})))
    try:
        decoded = decode(wire)
    except WireError:
        return
    assert decoded != {(1,)}


# ------------------------------------------------------------------------------------------------
# Huge outputs travel as digests; equality under == must survive (HumanEval/130: ints vs floats)
# ------------------------------------------------------------------------------------------------


def _huge(kind) -> list:
    return [kind(i) for i in range(1_100_000)]  # marshal: 5.5 MB as ints, 9.9 MB as floats


def test_huge_outputs_equal_under_eq_compare_equal_whichever_side_is_a_digest():
    from evolcoder.bench.compare import Comparator
    from evolcoder.execution.values import Digest, encode_output

    as_floats = decode(json.loads(json.dumps(encode_output(_huge(float)))))
    as_ints = decode(json.loads(json.dumps(encode_output(_huge(int)))))
    assert isinstance(as_floats, Digest)  # over DIGEST_THRESHOLD_BYTES as sent
    assert isinstance(as_ints, list)  # small enough to travel whole
    comparator = Comparator("humaneval", "tri", 0.0)
    assert comparator.matches([1], as_ints, as_floats)  # the reference returned floats, the candidate ints
    assert comparator.matches([1], as_floats, as_ints)
    one_off = _huge(int)
    one_off[-1] += 1
    assert not comparator.matches([1], one_off, as_floats)
    assert not comparator.matches([1], Opaque("thing"), as_floats)


def test_digests_of_numbers_follow_eq_and_keep_containers_apart():
    from evolcoder.execution.values import digest_of

    mixed = [1, 3] + _huge(float)  # HumanEval/130's reference: two ints, then floats
    assert digest_of(mixed) == digest_of([1, 3] + _huge(int))
    assert digest_of([1, 2.0, 2.5]) == digest_of([1.0, 2, 2.5])
    assert digest_of([1, 2]) != digest_of((1, 2))
    assert digest_of([0.5]) != digest_of([0])
    assert digest_of([True]) != digest_of([1])  # bools keep the exact serialization
    assert digest_of([Opaque("x")]) is None


def test_a_huge_nested_output_is_sent_as_the_digest_the_harness_computes_of_an_equal_value():
    """Mbpp/255's shape: a list of tuples of strings, digested as it is serialized in the sandbox.
    Equal values digest alike whatever objects they share: the reference's tuples share the input's
    strings, a candidate's may hold strings of their own."""
    from evolcoder.bench.compare import Comparator
    from evolcoder.execution.values import DIGEST_THRESHOLD_BYTES, Digest, digest_of, encode_output

    def combinations(n: int, fresh: bool = False) -> list:
        red, green = "Red", "Green"
        if fresh:  # new str objects in every tuple
            return [("".join(["R", "ed"]), "".join(["Gr", "een"]), str(i)) for i in range(n)]
        return [(red, green, str(i)) for i in range(n)]

    sent = decode(json.loads(json.dumps(encode_output(combinations(600_000)))))
    assert isinstance(sent, Digest) and sent.size > DIGEST_THRESHOLD_BYTES
    assert sent == digest_of(combinations(600_000)) == digest_of(combinations(600_000, fresh=True))
    assert sent != digest_of([list(t) for t in combinations(600_000)])  # lists, not tuples
    comparator = Comparator("mbpp", "combinations_colors", 0.0)
    assert comparator.matches([1], sent, combinations(600_000, fresh=True))
    assert not comparator.matches([1], sent, combinations(600_001))


class _Str(str):
    pass


def test_a_huge_output_holding_a_subclass_is_not_digested_but_encoded():
    from evolcoder.execution.values import encode_output

    value = [("Red", str(i)) for i in range(600_000)] + [(_Str("Red"), "x")]
    sent = encode_output(value)
    assert isinstance(sent, list) and len(sent) == len(value)  # item by item, the subclass read as a str
    assert decode(json.loads(json.dumps(sent)))[-1] == ("Red", "x")


def test_digests_of_numbers_keep_their_format_float64_bytes_after_a_tag():
    """Cached expected outputs (eval.groundtruth) hold digests made this way: the format must not move."""
    import hashlib

    import numpy as np

    from evolcoder.execution.values import digest_of

    mixed = [1, 3, 2**53, -(2**53)] + _huge(float)[:5000] + [float("nan"), -0.0]
    for value, tag in ((mixed, b"numbers-list:"), (tuple(mixed), b"numbers-tuple:")):
        doubles = np.asarray(value, dtype=np.float64).tobytes()
        assert digest_of(value).hexdigest == hashlib.sha256(tag + doubles).hexdigest()
        assert digest_of(value).size == len(tag) + len(doubles)
    assert digest_of([2**53 + 1, 0.5]) != digest_of([float(2**53 + 1), 0.5])  # not exact as a float64


def test_long_lists_of_numbers_are_digested_exactly_when_their_serialization_is_over_the_threshold(monkeypatch):
    """The size of a list of numbers is bounded without serializing it where the bounds decide;
    the decision is still marshal's, on either side of the threshold and in between."""
    import marshal
    import random

    from evolcoder.execution import values

    rng = random.Random(7)
    kinds = (
        lambda: rng.randrange(-(2**31), 2**31),  # 5 bytes
        lambda: rng.random(),  # 9 bytes
        lambda: rng.randrange(2**45, 2**53),  # 13 bytes
    )
    for n in (4096, 6000):
        for mix in ((0,), (1,), (2,), (0, 1), (0, 1, 2)):
            value = [kinds[rng.choice(mix)]() for _ in range(n)]
            size = len(marshal.dumps(value, 2))
            for threshold in (5 * n, size - 1, size, 13 * n + 5, 5 * n + 4):
                monkeypatch.setattr(values, "DIGEST_THRESHOLD_BYTES", threshold)
                sent = decode(json.loads(json.dumps(values.encode_output(value))))
                assert isinstance(sent, values.Digest) == (size > threshold), (n, mix, threshold)
                assert sent == (values.digest_of(value) if size > threshold else value)


def test_digesting_numbers_imports_no_numpy_in_the_sandbox():
    """A sandbox process that returns a huge list of numbers digests it without importing numpy
    (tens of milliseconds per process)."""
    import subprocess
    import sys

    code = (
        "import sys; from evolcoder.execution.values import encode_output; "
        "sent = encode_output([0.5] * 1_100_000); print('h' in sent, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]

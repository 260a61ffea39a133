"""Values that cross the sandbox boundary.

A program under test returns arbitrary Python objects. They are never compared inside the sandbox
(an object can override ``__eq__`` to equal anything); instead the sandbox turns each return value
into plain data — exact builtin types rebuilt through the builtin types' own methods, so that a
subclass cannot lie about its contents — and the trusted harness compares that plain data.

The wire format is JSON with tags for what JSON cannot say: tuples, sets, dicts with non-string
keys, bytes, complex numbers, numpy scalars and objects that cannot be represented. Decoding never
executes anything, so a hostile program can at worst send a value that compares unequal.
"""

from __future__ import annotations

import array
import hashlib
import json
import marshal
import math
import pickle
import re
from collections.abc import Callable
from typing import Any

# Tags of the wire format. A JSON object on the wire is always a tagged value.
_TUPLE, _SET, _FROZENSET, _DICT = "t", "s", "fs", "d"
_BYTES, _COMPLEX, _FLOAT, _NUMPY, _OPAQUE, _INT = "b", "c", "f", "np", "x", "i"
_DIGEST, _REF = "h", "r"

# Outputs whose exact serialization is larger than this travel as a digest (see encode_output).
DIGEST_THRESHOLD_BYTES = 8 << 20
# A str or bytes output larger than this travels as a digest when the request asks for it (the
# harness compares it by equality alone): equal digests then mean equal text, exactly.
TEXT_DIGEST_THRESHOLD_BYTES = 64 << 10
# A flat list or tuple of numbers with this many items travels as a digest when the request asks
# for it (the harness compares it by equality, with no tolerance): equal digests, equal numbers.
NUMBERS_DIGEST_ITEMS = 1 << 16

MAX_DEPTH = 200


class Opaque:
    """A value the sandbox could not turn into plain data; equal only to nothing."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class Digest:
    """A huge output, known by the sha256 of its exact serialization (``digest_of``).

    Two digests are equal when the serializations are: same types, same items in the same
    order, except that a flat list or tuple of numbers is serialized as float64s, so that
    ``[1, 3.0, 2.5]`` and ``[1.0, 3, 2.5]`` (equal under ``==``) match. Equal values built
    differently (a dict filled in another order) count as different, and no float tolerance
    applies; this only affects outputs above DIGEST_THRESHOLD_BYTES.
    """

    __slots__ = ("hexdigest", "size")

    def __init__(self, hexdigest: str, size: int) -> None:
        self.hexdigest = hexdigest
        self.size = size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and other.hexdigest == self.hexdigest

    def __hash__(self) -> int:
        return hash(self.hexdigest)

    def __repr__(self) -> str:
        return f"<output of {self.size} bytes, sha256 {self.hexdigest[:12]}>"


class NumpyFloat(float):
    """A numpy floating scalar: equal like a float, but ``type(x) is not float`` as in evalplus."""

    def __repr__(self) -> str:
        return f"np.float64({float.__repr__(self)})"


class NumpyInt(int):
    """A numpy integer scalar: equal like an int, but not of type int."""

    def __repr__(self) -> str:
        return f"np.int64({int.__repr__(self)})"


class NumpyBool:
    """A numpy bool: equal like a bool, but ``isinstance(x, bool)`` is False as for ``np.bool_``."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = bool(value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NumpyBool):
            return self.value == other.value
        return self.value == other

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return self.value

    def __repr__(self) -> str:
        return f"np.{self.value}"


# ----------------------------------------------------------------------------------------------
# Encoding (runs inside the sandbox, on untrusted objects)
# ----------------------------------------------------------------------------------------------


def _float_wire(x: float) -> Any:
    # JSON has no inf/nan and json.dumps writes them as non-standard tokens; tag them instead.
    if math.isfinite(x):
        return x
    return {_FLOAT: repr(x)}


def _int_wire(x: int) -> Any:
    # Big ints travel as hex: linear to print and to parse, unlike decimal (CPython caps it).
    if -(1 << 62) < x < (1 << 62):
        return x
    return {_INT: format(x, "x")}


_SMALL_INT = 1 << 62


def _all_json_scalars(items: list | tuple) -> bool:
    """Every item is an exact str, bool, None, small int or finite float: JSON carries it as is.

    The common big outputs (lists of numbers or strings) then skip the per-item encoding.
    """
    for x in items:
        t = type(x)
        if t is str or t is bool or x is None:
            continue
        if t is int:
            if -_SMALL_INT < x < _SMALL_INT:
                continue
            return False
        if t is float and x - x == 0.0:  # finite
            continue
        return False
    return True


def travels_as_is(value: Any) -> bool:
    """``encode(value)`` is ``value`` itself: None, a bool, a str, a small int, a finite float, or a
    list of such values and lists at any depth (checked in C), so the big outputs that are lists of
    lists of numbers need no encoding to be compared on the wire.

    marshal accepts exact builtin types only (no subclass, which ``encode`` tags); a JSON round
    trip then gives back an equal list only if it holds no tuple (it comes back a list), NaN,
    infinity, set, bytes or complex; ``{`` in its text rules out dicts, and a run of 19 digits big
    ints (both, harmlessly, also strings holding them).
    """
    t = type(value)
    if value is None or t is bool or t is str:
        return True
    if t is int:
        return -_SMALL_INT < value < _SMALL_INT
    if t is float:
        return value - value == 0.0
    if t is not list:
        return False
    try:
        marshal.dumps(value, 2)  # every item of an exact builtin type (no float subclass that prints as a float)
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return "{" not in text and _LONG_DIGITS.search(text) is None and json.loads(text) == value


_LONG_DIGITS = re.compile(r"[0-9]{19}")  # 2**62 has 19 digits


def encode_output(value: Any, digest_text: bool = False, digest_numbers: bool = False) -> Any:
    """``encode`` for a returned value, with huge plain outputs reduced to a digest (``digest_of``).

    A container is huge when its serialization is over DIGEST_THRESHOLD_BYTES; a short one (under
    _PROBE_ITEMS items) is measured first with marshal, quick for those, a long list of numbers by
    the bounds of its numbers' sizes (``_numbers_over``), and another long one is digested as it
    is serialized, the serialization kept while it is short.
    ``digest_text``: a str or bytes over TEXT_DIGEST_THRESHOLD_BYTES is digested too (a 7 MB string
    then costs a sha256 instead of a JSON round trip through the pipe).
    ``digest_numbers``: so is a list or tuple of NUMBERS_DIGEST_ITEMS numbers or more.
    """
    t = type(value)
    digest = None
    if t is str or t is bytes:
        raw = marshal.dumps(value, 2)
        if len(raw) > (TEXT_DIGEST_THRESHOLD_BYTES if digest_text else DIGEST_THRESHOLD_BYTES):
            digest = _digest_text(raw)
    elif t is list or t is tuple or t is dict or t is set or t is frozenset:
        if len(value) < _PROBE_ITEMS:
            try:
                huge = len(marshal.dumps(value, 2)) > DIGEST_THRESHOLD_BYTES
            except (ValueError, TypeError, RecursionError):
                huge = False  # not plain builtin data: encoded item by item
            if huge:
                digest = _digest_container(value, 0)
        elif _numbers_only(value):
            long = digest_numbers and len(value) >= NUMBERS_DIGEST_ITEMS
            digest = _numbers_digest(value) if long or _numbers_over(value, DIGEST_THRESHOLD_BYTES) else None
        else:
            digest = _digest_container(value, DIGEST_THRESHOLD_BYTES)
    return encode(value) if digest is None else digest_wire(digest)


def digest_wire(digest: Digest) -> dict:
    """A digest as wire data (what ``encode_output`` sends for a huge output; ``decode`` reads it)."""
    return {_DIGEST: digest.hexdigest, "n": digest.size}


_PROBE_ITEMS = 4096


def digest_of(value: Any) -> Digest | None:
    """The ``Digest`` of a plain value, or None when it is not plain builtin data.

    A str or bytes is digested by its marshal (version 2) serialization, a flat list or tuple of
    numbers as float64s (see Digest), any other value by its pickle (protocol 5) without a memo:
    both write exact builtin types only, and write equal values of the same types, built alike or
    not, the same way (no back-references that would follow object identity).

    The harness calls it too: when an expected output travelled as a digest and the returned one
    whole (or the other way round), the whole one is digested the same way before comparing.
    """
    if isinstance(value, Digest):
        return value
    t = type(value)
    if t is str or t is bytes:
        return _digest_text(marshal.dumps(value, 2))
    return _digest_container(value, 0)


def _digest_text(raw: bytes) -> Digest:
    return Digest(hashlib.sha256(raw).hexdigest(), len(raw))


def _digest_container(value: Any, over: int) -> Digest | None:
    """``digest_of(value)`` when its serialization is longer than ``over`` bytes, else None (and
    None when ``value`` is not plain builtin data)."""
    if _numbers_only(value):
        digest = _numbers_digest(value)
        return digest if digest.size > over else None
    sink = _DigestSink(over)
    pickler = _PlainPickler(sink, protocol=5)
    pickler.fast = True  # no memo: equal values serialize alike whatever objects they share
    try:
        pickler.dump(value)
    except (_NotPlain, pickle.PicklingError, ValueError, TypeError, RecursionError, OverflowError):
        return None  # (ValueError: a cycle, which fast mode refuses)
    return sink.digest()


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    """pickle writes exact builtin types (None, bool, int, float, str, bytes, list, tuple, dict, set,
    frozenset, bytearray) itself, in C; anything else comes here, and is refused."""

    def reducer_override(self, obj: Any) -> Any:
        raise _NotPlain(type(obj).__name__)


class _DigestSink:
    """Where a serialization goes as it is written: kept while it is at most ``over`` bytes, then
    hashed as it comes (a 1 GB output is never held whole)."""

    def __init__(self, over: int) -> None:
        self._over = over
        self._kept = bytearray()
        self._sha: Any = None if over else hashlib.sha256()
        self._size = 0

    def write(self, data: Any) -> int:
        n = len(data)
        self._size += n
        if self._sha is not None:
            self._sha.update(data)
            return n
        self._kept += data
        if len(self._kept) > self._over:
            self._sha = hashlib.sha256(self._kept)
            self._kept = bytearray()
        return n

    def digest(self) -> Digest | None:
        return None if self._sha is None else Digest(self._sha.hexdigest(), self._size)


_EXACT_IN_FLOAT64 = 1 << 53


def _numbers_only(value: Any) -> bool:
    """A non-empty list or tuple of floats and of ints exact as float64s."""
    t = type(value)
    if (t is not list and t is not tuple) or not value:
        return False
    for x in value:
        kind = type(x)
        if kind is float:
            continue
        if kind is not int or not -_EXACT_IN_FLOAT64 <= x <= _EXACT_IN_FLOAT64:
            return False
    return True


def _numbers_over(numbers: list | tuple, over: int) -> bool:
    """Whether ``marshal.dumps(numbers, 2)`` (``_numbers_only``) is longer than ``over`` bytes, without
    writing it where the bounds decide: a number takes 5 bytes at least (an int of 32 bits) and 13
    at most (a float 9, an int under 2**53 four 15-bit digits and their count), the header 5."""
    if 5 + 5 * len(numbers) > over:
        return True
    if 5 + 13 * len(numbers) <= over:
        return False
    return len(marshal.dumps(numbers, 2)) > over


def _numbers_digest(numbers: list | tuple) -> Digest:
    """The digest of a flat list or tuple of numbers (``_numbers_only``) as tagged float64 bytes:
    every int is exact as a float64, so two such sequences are equal under ``==`` exactly when
    the bytes are. The array module converts them in C (no numpy to import in a sandbox)."""
    tag = b"numbers-list:" if type(numbers) is list else b"numbers-tuple:"
    doubles = array.array("d", numbers)
    sha = hashlib.sha256(tag)
    sha.update(doubles)
    return Digest(sha.hexdigest(), len(tag) + doubles.itemsize * len(doubles))


def encode(value: Any, depth: int = 0, handle: Callable[[Any], int] | None = None) -> Any:
    """Turn a returned object into wire data without calling any method the object defines.

    Subclasses of builtins are read through the builtin type's own slots (``int.__repr__``,
    ``list.__iter__``...), so an overridden ``__eq__``, ``__iter__`` or ``__repr__`` is ignored.
    Anything else becomes an opaque value that equals nothing, or, given ``handle``, a reference
    ``{"r": handle(value)}`` to it (values that stay in the process that made them, execution.apart).
    """
    if depth > MAX_DEPTH:
        return {_OPAQUE: "too deeply nested value"}
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return _int_wire(value)
    if t is float:
        return _float_wire(value)
    if t is list:
        return value if _all_json_scalars(value) else [encode(v, depth + 1, handle) for v in value]
    if t is tuple:
        return {_TUPLE: list(value) if _all_json_scalars(value) else [encode(v, depth + 1, handle) for v in value]}
    if t is dict:
        return {_DICT: [[encode(k, depth + 1, handle), encode(v, depth + 1, handle)] for k, v in value.items()]}
    if t is set:
        return {_SET: [encode(v, depth + 1, handle) for v in value]}
    if t is frozenset:
        return {_FROZENSET: [encode(v, depth + 1, handle) for v in value]}
    if t is bytes:
        return {_BYTES: bytes.hex(value)}
    if t is complex:
        return {_COMPLEX: [_float_wire(value.real), _float_wire(value.imag)]}
    numpy_value = _encode_numpy(value, depth)
    if numpy_value is not None:
        return numpy_value
    # Subclasses of builtins: read the real contents through the base type.
    if issubclass(t, bool):
        return bool(int.__index__(value))
    if issubclass(t, int):
        return _int_wire(int.__index__(value))
    if issubclass(t, float):
        return _float_wire(float.__float__(value))
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, tuple):
        return {_TUPLE: [encode(v, depth + 1, handle) for v in tuple.__iter__(value)]}
    if issubclass(t, list):
        return [encode(v, depth + 1, handle) for v in list.__iter__(value)]
    if issubclass(t, dict):
        items = dict.items(value)
        return {_DICT: [[encode(k, depth + 1, handle), encode(v, depth + 1, handle)] for k, v in items]}
    if issubclass(t, frozenset):
        return {_FROZENSET: [encode(v, depth + 1, handle) for v in frozenset.__iter__(value)]}
    if issubclass(t, set):
        return {_SET: [encode(v, depth + 1, handle) for v in set.__iter__(value)]}
    if issubclass(t, bytes):
        return {_BYTES: bytes.hex(value)}
    if handle is not None:
        return {_REF: handle(value)}
    return {_OPAQUE: _type_name(t)}


def _encode_numpy(value: Any, depth: int) -> Any:
    """numpy scalars become tagged plain numbers; arrays stay opaque, as ``arr == list`` fails."""
    import sys

    np = sys.modules.get("numpy")
    if np is None:
        return None
    t = type(value)
    # Only numpy's own scalar classes, never a user subclass of them.
    if type.__getattribute__(t, "__module__") != "numpy" or not issubclass(t, np.generic):
        return None
    if issubclass(t, np.bool_):
        return {_NUMPY: "bool", "v": bool(value)}
    if issubclass(t, np.integer):
        return {_NUMPY: "int", "v": _int_wire(int(value))}
    if issubclass(t, np.floating):
        return {_NUMPY: "float", "v": _float_wire(float(value))}
    return {_OPAQUE: _type_name(t)}


def _type_name(t: type) -> str:
    try:
        return f"{type.__getattribute__(t, '__module__')}.{type.__getattribute__(t, '__qualname__')}"
    except Exception:
        return "object"


# ----------------------------------------------------------------------------------------------
# Decoding (runs in the trusted harness, on data the sandbox sent)
# ----------------------------------------------------------------------------------------------


class WireError(ValueError):
    """The sandbox sent something that is not valid wire data."""


def _float_from_wire(x: Any) -> float:
    if isinstance(x, dict) and set(x) == {_FLOAT}:
        return float(x[_FLOAT])
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise WireError(f"bad float {x!r:.80}")


def decode(data: Any, resolve: Callable[[int], Any] | None = None) -> Any:
    """Rebuild plain Python values from wire data; anything malformed raises WireError.

    ``resolve`` turns a reference (see ``encode``'s ``handle``) back into an object; without it a
    reference is malformed.
    """
    try:
        return _decode(data, 0, resolve)
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise WireError(f"malformed value: {exc}"[:200]) from None


def _decode(data: Any, depth: int = 0, resolve: Callable[[int], Any] | None = None) -> Any:
    if depth > MAX_DEPTH + 2:
        raise WireError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        if all(type(v) is not list and type(v) is not dict for v in data):
            return data  # only scalars, which decode to themselves
        return [_decode(v, depth + 1, resolve) for v in data]
    if not isinstance(data, dict) or not data:
        raise WireError(f"unexpected wire value {data!r:.80}")
    if _TUPLE in data:
        return tuple(_decode(v, depth + 1, resolve) for v in _items(data[_TUPLE]))
    if _SET in data:
        return {_decode(v, depth + 1, resolve) for v in _items(data[_SET])}
    if _FROZENSET in data:
        return frozenset(_decode(v, depth + 1, resolve) for v in _items(data[_FROZENSET]))
    if _DICT in data:
        return {_decode(k, depth + 1, resolve): _decode(v, depth + 1, resolve) for k, v in _pairs(data[_DICT])}
    if _BYTES in data:
        return bytes.fromhex(str(data[_BYTES]))
    if _COMPLEX in data:
        re_im = _items(data[_COMPLEX])
        if len(re_im) != 2:
            raise WireError("bad complex")
        return complex(_float_from_wire(re_im[0]), _float_from_wire(re_im[1]))
    if _FLOAT in data:
        return _float_from_wire(data)
    if _INT in data:
        return int(str(data[_INT]), 16)
    if _NUMPY in data:
        kind, v = data[_NUMPY], data.get("v")
        if kind == "bool":
            return NumpyBool(bool(v))
        if kind == "int":
            number = _decode(v, depth + 1, resolve)
            if type(number) is not int:
                raise WireError("bad numpy int")
            return NumpyInt(number)
        if kind == "float":
            return NumpyFloat(_float_from_wire(v))
        raise WireError(f"bad numpy value {data!r:.80}")
    if _OPAQUE in data:
        return Opaque(str(data[_OPAQUE])[:200])
    if _REF in data and resolve is not None and type(data[_REF]) is int:
        return resolve(data[_REF])
    if _DIGEST in data:
        return Digest(str(data[_DIGEST])[:64], int(data.get("n", 0)))
    raise WireError(f"unknown tag in {data!r:.80}")


def _items(x: Any) -> list:
    if not isinstance(x, list):
        raise WireError("expected a list")
    return x


def _pairs(x: Any) -> list:
    pairs = _items(x)
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise WireError("expected key/value pairs")
    return pairs


def to_jsonable(value: Any) -> Any:
    """A JSON-friendly view of a decoded value, for reports (tuples and sets become lists)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_jsonable(v) for k, v in value.items()}
        return [[to_jsonable(k), to_jsonable(v)] for k, v in value.items()]
    if isinstance(value, NumpyBool):
        return value.value
    return repr(value)

"""DS-1000 results as data: what a candidate's ``result`` may be, rebuilt in the test process.

A DS-1000 test compares the ``result`` the candidate's code leaves behind with the expected one,
using NumPy, pandas, SciPy, PyTorch or TensorFlow comparisons. Judged apart (execution.apart), the
result crosses from the candidate's process to the test process: it is taken apart into plain
parts here and rebuilt there through the libraries' public constructors — never unpickled, so a
hostile candidate can at worst send a value that compares unequal.

What crosses, with its exact type: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
``bytes``, lists, tuples, dicts, sets, ``datetime`` values; NumPy arrays (the ``.npy`` format without
pickles; object arrays item by item), matrices, scalars and dtypes; pandas ``DataFrame``, ``Series``,
every ``Index`` kind, categoricals and other extension arrays, ``Timestamp``, ``Timedelta``,
``Period``, ``Interval``, ``NaT`` and ``NA``; SciPy sparse matrices and arrays of every format;
PyTorch tensors and TensorFlow tensors and variables (as arrays, with their dtype). Anything else
becomes an :class:`~evolcoder.execution.values.Opaque`, equal to nothing.

The wire format is JSON: ``None``/``bool``/``int``/``float``/``str`` and lists as themselves, every
other value as a one-key object whose key is its tag.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import sys
from collections.abc import Callable
from typing import Any

from evolcoder.execution.values import Opaque, WireError

MAX_DEPTH = 100

_SPARSE_NAMES = frozenset(
    f"{fmt}_{kind}" for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok") for kind in ("matrix", "array")
)


def _module(name: str) -> Any:
    """A library only if something already imported it: encoding never imports one."""
    return sys.modules.get(name)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if type(text) is not str:
        raise WireError("expected base64 text")
    return base64.b64decode(text, validate=True)


# ----------------------------------------------------------------------------------------------
# Encoding (in the candidate's process)
# ----------------------------------------------------------------------------------------------


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as wire data; what cannot cross is tagged opaque with its type's name."""
    if depth > MAX_DEPTH:
        return {"x": "deeply nested value"}
    t = type(value)
    if value is None or t in (bool, str):
        return value
    if t is int:
        return value
    if t is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else {"f": repr(value)}
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is tuple:
        return {"t": [encode(v, depth + 1) for v in value]}
    if isinstance(value, tuple) and hasattr(t, "_fields"):  # a named tuple (SciPy's results): as a tuple
        return {"t": [encode(v, depth + 1) for v in tuple.__iter__(value)]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, depth + 1) for v in value]}
    if t is bytes:
        return {"b": _b64(value)}
    if t is complex:
        return {"c": [encode(value.real), encode(value.imag)]}
    if t in (dt.datetime, dt.date, dt.time, dt.timedelta):
        return _encode_datetime(value)
    for encoder in (_encode_numpy, _encode_pandas, _encode_sparse, _encode_torch, _encode_tensorflow):
        wire = encoder(value, depth)
        if wire is not None:
            return wire
    return {"x": f"{t.__module__}.{t.__qualname__}"}


def _encode_datetime(value: Any) -> Any:
    if type(value) is dt.timedelta:
        return {"pytd": [value.days, value.seconds, value.microseconds]}
    if getattr(value, "tzinfo", None) is not None and value.utcoffset() is None:
        return {"x": "datetime with an unnamed time zone"}
    return {"py" + type(value).__name__: value.isoformat()}


def _npy(array: Any) -> str:
    numpy = _module("numpy")
    buffer = io.BytesIO()
    numpy.save(buffer, array, allow_pickle=False)
    return _b64(buffer.getvalue())


def _encode_array(array: Any, depth: int) -> Any:
    if array.dtype.hasobject:
        if array.dtype.kind != "O":
            return {"x": "structured array with objects"}
        return {"ndo": {"shape": list(array.shape), "items": [encode(v, depth + 1) for v in array.flat]}}
    return {"nd": _npy(array)}


def _encode_numpy(value: Any, depth: int) -> Any:
    numpy = _module("numpy")
    if numpy is None:
        return None
    t = type(value)
    if t is numpy.ndarray:
        return _encode_array(value, depth)
    if t is numpy.matrix:
        return {"ndm": _encode_array(numpy.asarray(value), depth)}
    if isinstance(value, numpy.generic) and t.__module__ == "numpy":
        if value.dtype.hasobject:
            return {"x": t.__name__}
        return {"ng": _npy(numpy.array(value))}
    if isinstance(value, numpy.dtype):
        if value.hasobject:  # .npy cannot hold one without pickles: only the plain object dtype crosses
            return {"dtype_o": value.str} if value.kind == "O" else {"x": "structured dtype with objects"}
        return {"dtype": _npy(numpy.empty(0, dtype=value))}
    return None


def _encode_pandas(value: Any, depth: int) -> Any:
    pd = _module("pandas")
    if pd is None or not type(value).__module__.startswith("pandas"):
        return None
    t = type(value)
    if t is pd.DataFrame:
        arrays = [_encode_values(value.iloc[:, i], depth) for i in range(value.shape[1])]
        return {
            "pdf": {
                "index": _encode_index(value.index, depth),
                "columns": _encode_index(value.columns, depth),
                "arrays": arrays,
            }
        }
    if t is pd.Series:
        return {
            "ps": {
                "values": _encode_values(value, depth),
                "index": _encode_index(value.index, depth),
                "name": encode(value.name, depth + 1),
            }
        }
    if isinstance(value, pd.Index):
        return {"pi": _encode_index(value, depth)}
    if t is pd.Categorical:
        return {"pcat": _encode_categorical(value, depth)}
    if isinstance(value, pd.api.extensions.ExtensionArray) and t.__module__.startswith("pandas.core.arrays"):
        return {"pea": _encode_extension(value, depth)}
    return _encode_pandas_scalar(value, depth)


def _encode_pandas_scalar(value: Any, depth: int) -> Any:
    pd = _module("pandas")
    t = type(value)
    if value is pd.NaT:
        return {"nat": 1}
    if value is pd.NA:
        return {"na": 1}
    if t is pd.Timestamp:
        return {"pts": [int(value.value), None if value.tz is None else _encode_tz(value.tz)]}
    if t is pd.Timedelta:
        return {"ptd": int(value.value)}
    if t is pd.Period:
        return {"pp": [str(value), value.freqstr]}
    if t is pd.Interval:
        return {"piv": [encode(value.left, depth + 1), encode(value.right, depth + 1), value.closed]}
    if isinstance(value, pd.api.extensions.ExtensionDtype) and t.__module__.startswith("pandas"):
        if t is pd.CategoricalDtype:
            categories = None if value.categories is None else _encode_index(value.categories, depth)
            return {"pcdt": [categories, bool(value.ordered)]}
        return {"pdt": str(value)}
    return None


def _encode_tz(tz: Any) -> Any:
    """A time zone by what rebuilds it: a fixed offset in minutes, or a zone name, with its library."""
    library = type(tz).__module__.split(".")[0]
    offset = tz.utcoffset(None)
    if offset is not None:
        return {"offset": offset.total_seconds() / 60, "lib": library}
    return {"name": str(getattr(tz, "zone", None) or getattr(tz, "key", None) or tz), "lib": library}


def _encode_values(column: Any, depth: int) -> Any:
    """A Series' values with their dtype: a NumPy array, a categorical or another extension array."""
    numpy = _module("numpy")
    pd = _module("pandas")
    if isinstance(column.dtype, numpy.dtype):
        return _encode_array(column.to_numpy(), depth)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return {"pcat": _encode_categorical(column.array, depth)}
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        utc = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return {"pdtz": {"utc": _encode_array(utc, depth), "tz": _encode_tz(column.dtype.tz)}}
    return {"pea": _encode_extension(column.array, depth)}


def _encode_categorical(values: Any, depth: int) -> dict:
    return {
        "categories": _encode_index(values.categories, depth),
        "codes": _encode_array(values.codes, depth),
        "ordered": bool(values.ordered),
    }


def _encode_extension(values: Any, depth: int) -> dict:
    return {"dtype": str(values.dtype), "items": [encode(v, depth + 1) for v in values]}


def _encode_index(index: Any, depth: int) -> Any:
    pd = _module("pandas")
    if depth > MAX_DEPTH:
        return {"x": "deeply nested value"}
    t = type(index)
    name = encode(index.name, depth + 1) if t is not pd.MultiIndex else None
    if t is pd.RangeIndex:
        return {"range": [index.start, index.stop, index.step], "name": name}
    if t is pd.MultiIndex:
        return {
            "levels": [_encode_index(level, depth + 1) for level in index.levels],
            "codes": [_encode_array(codes, depth) for codes in index.codes],
            "names": [encode(n, depth + 1) for n in index.names],
        }
    if not t.__module__.startswith("pandas"):
        return {"x": t.__name__}
    freq = getattr(index, "freqstr", None) if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
    return {
        "values": _encode_values(pd.Series(index, copy=False).reset_index(drop=True), depth),
        "name": name,
        "freq": freq,
    }


def _encode_sparse(value: Any, depth: int) -> Any:
    sparse = _module("scipy.sparse")
    t = type(value)
    if sparse is None or t.__name__ not in _SPARSE_NAMES or getattr(sparse, t.__name__, None) is not t:
        return None
    fmt = t.__name__[:3]
    if fmt in ("lil", "dok", "dia"):  # rebuilt from coordinates, whose bounds the constructor checks
        value, fmt = value.tocoo(), "coo"
    if fmt in ("csr", "csc", "bsr"):
        parts = [value.data, value.indices, value.indptr]
    else:
        parts = [value.data, value.row, value.col]
    return {"sp": {"type": t.__name__, "shape": list(value.shape), "parts": [_encode_array(p, depth) for p in parts]}}


def _encode_torch(value: Any, depth: int) -> Any:
    torch = _module("torch")
    if torch is None or type(value) is not torch.Tensor:
        return None
    tensor = value.detach().cpu()
    if tensor.is_sparse or tensor.layout != torch.strided:
        return {"x": "sparse tensor"}
    dtype = str(tensor.dtype).removeprefix("torch.")
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    try:
        array = tensor.resolve_conj().resolve_neg().numpy()
    except (TypeError, RuntimeError):
        return {"x": f"torch tensor of {dtype}"}
    return {"tt": {"a": _encode_array(array, depth), "dtype": dtype, "grad": bool(value.requires_grad)}}


def _encode_tensorflow(value: Any, depth: int) -> Any:
    tf = _module("tensorflow")
    name = type(value).__name__
    if (
        tf is None
        or name not in ("EagerTensor", "ResourceVariable")
        or not type(value).__module__.startswith("tensorflow")
    ):
        return None
    array = value.numpy()
    numpy = _module("numpy")
    if type(array) is not numpy.ndarray:
        array = numpy.array(array)
    return {"tf": {"a": _encode_array(array, depth), "dtype": value.dtype.name, "variable": name == "ResourceVariable"}}


def crosses(wire: Any) -> bool:
    """Whether encoded data holds no opaque part: it rebuilds to the value it was made from."""
    stack = [wire]
    while stack:
        item = stack.pop()
        if type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            if "x" in item:
                return False
            stack.extend(item.values())
    return True


# ----------------------------------------------------------------------------------------------
# Decoding (in the test process): public constructors only, nothing the candidate names is run
# ----------------------------------------------------------------------------------------------


def decode(data: Any) -> Any:
    """The value ``encode`` took apart; raises WireError on anything malformed."""
    try:
        return _decode(data, 0)
    except WireError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as exc:
        raise WireError(f"a value that does not rebuild: {type(exc).__name__}: {str(exc)[:200]}") from None


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH + 5:
        raise WireError("too deeply nested")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [_decode(v, depth + 1) for v in data]
    if type(data) is not dict or len(data) != 1:
        raise WireError(f"malformed value {data!r:.80}")
    ((tag, body),) = data.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise WireError(f"unknown tag {tag!r:.40}")
    return decoder(body, depth + 1)


def _items(body: Any, depth: int) -> list:
    if type(body) is not list:
        raise WireError("expected a list")
    return [_decode(v, depth) for v in body]


def _float(body: Any, depth: int) -> float:
    if body not in ("nan", "inf", "-inf"):
        raise WireError("not a special float")
    return float(body)


def _dict(body: Any, depth: int) -> dict:
    if type(body) is not list or any(type(p) is not list or len(p) != 2 for p in body):
        raise WireError("expected key-value pairs")
    return {_decode(k, depth): _decode(v, depth) for k, v in body}


def _datetime(kind: type) -> Callable[[Any, int], Any]:
    def rebuild(body: Any, depth: int) -> Any:
        if type(body) is not str:
            raise WireError("expected ISO text")
        return kind.fromisoformat(body)

    return rebuild


def _timedelta(body: Any, depth: int) -> dt.timedelta:
    days, seconds, microseconds = (int(x) for x in body)
    return dt.timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _array(body: Any, depth: int) -> Any:
    numpy = _library("numpy")
    array = numpy.load(io.BytesIO(_unb64(body)), allow_pickle=False)
    if type(array) is not numpy.ndarray:
        raise WireError("not an array")
    return array


def _object_array(body: Any, depth: int) -> Any:
    numpy = _library("numpy")
    shape = tuple(int(n) for n in body["shape"])
    items = _items(body["items"], depth)
    array = numpy.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array.reshape(shape)


def _matrix(body: Any, depth: int) -> Any:
    return _library("numpy").asmatrix(_decode(body, depth))


def _numpy_scalar(body: Any, depth: int) -> Any:
    array = _array(body, depth)
    if array.shape != ():
        raise WireError("a scalar with a shape")
    return array[()]


def _dtype(body: Any, depth: int) -> Any:
    return _array(body, depth).dtype


def _object_dtype(body: Any, depth: int) -> Any:
    if body not in ("|O", "<O", ">O"):
        raise WireError("not an object dtype")
    return _library("numpy").dtype(object)


def _library(name: str) -> Any:
    module = sys.modules.get(name)
    if module is None:
        try:
            module = __import__(name, fromlist=["_"])
        except ImportError:
            raise WireError(f"{name} is not available to rebuild the value") from None
    return module


def _dataframe(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    index = _index(body["index"], depth)
    columns = _index(body["columns"], depth)
    arrays = [_values(a, depth) for a in body["arrays"]]
    if len(arrays) != len(columns) or any(len(a) != len(index) for a in arrays):
        raise WireError("a DataFrame whose parts do not fit")
    if not arrays:
        return pd.DataFrame(index=index, columns=columns)
    frame = pd.DataFrame(dict(enumerate(arrays)), index=index, copy=False)
    frame.columns = columns
    return frame


def _series(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    values = _values(body["values"], depth)
    index = _index(body["index"], depth)
    if len(values) != len(index):
        raise WireError("a Series whose index does not fit")
    return pd.Series(values, index=index, name=_decode(body["name"], depth), copy=False)


def _values(body: Any, depth: int) -> Any:
    """A column's values: an array, a categorical or an extension array."""
    numpy = _library("numpy")
    pd = _library("pandas")
    values = _decode(body, depth)
    if type(values) is numpy.ndarray or isinstance(values, pd.api.extensions.ExtensionArray):
        if getattr(values, "ndim", 1) != 1:
            raise WireError("a column that is not one-dimensional")
        return values
    raise WireError("a column that is not an array")


def _categorical(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    categories = _index(body["categories"], depth)
    codes = _decode(body["codes"], depth)
    dtype = pd.CategoricalDtype(categories, ordered=bool(body["ordered"]))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _extension(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    if type(body["dtype"]) is not str:
        raise WireError("expected a dtype name")
    dtype = pd.api.types.pandas_dtype(body["dtype"])
    return pd.array(_items(body["items"], depth), dtype=dtype)


def _index(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    if type(body) is not dict:
        raise WireError("malformed index")
    if "x" in body:
        raise WireError(f"an index of type {body['x']!r:.40} does not cross")
    if "range" in body:
        start, stop, step = (int(n) for n in body["range"])
        return pd.RangeIndex(start, stop, step, name=_decode(body["name"], depth))
    if "levels" in body:
        levels = [_index(level, depth + 1) for level in body["levels"]]
        codes = [_decode(c, depth) for c in body["codes"]]
        return pd.MultiIndex(levels=levels, codes=codes, names=_items(body["names"], depth), verify_integrity=True)
    values = _values(body["values"], depth)
    name = _decode(body["name"], depth)
    freq = body.get("freq")
    if freq is not None:
        if type(freq) is not str:
            raise WireError("expected a frequency name")
        kind = (
            pd.DatetimeIndex
            if values.dtype.kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype)
            else pd.TimedeltaIndex
        )
        return kind(values, freq=freq, name=name)
    return pd.Index(values, dtype=values.dtype, name=name, copy=False)


def _index_value(body: Any, depth: int) -> Any:
    return _index(body, depth)


def _tz(body: Any) -> Any:
    if type(body) is not dict:
        raise WireError("malformed time zone")
    library = body.get("lib")
    if "offset" in body:
        minutes = float(body["offset"])
        if library == "pytz":
            return _library("pytz").FixedOffset(int(minutes))
        return dt.timezone(dt.timedelta(minutes=minutes))
    name = body.get("name")
    if type(name) is not str:
        raise WireError("malformed time zone name")
    if library == "pytz":
        return _library("pytz").timezone(name)
    if library == "zoneinfo":
        return _library("zoneinfo").ZoneInfo(name)
    if library == "dateutil":
        return _library("dateutil.tz").gettz(name)
    return name


def _timestamp(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    value, tz = body
    if tz is None:
        return pd.Timestamp(int(value))
    return pd.Timestamp(int(value), tz="UTC").tz_convert(_tz(tz))


def _datetime_tz(body: Any, depth: int) -> Any:
    pd = _library("pandas")
    utc = _decode(body["utc"], depth)
    if getattr(utc, "dtype", None) is None or utc.dtype.kind != "M":
        raise WireError("expected datetimes")
    return pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(_tz(body["tz"])).array


def _period(body: Any, depth: int) -> Any:
    text, freq = (str(x) for x in body)
    return _library("pandas").Period(text, freq=freq)


def _interval(body: Any, depth: int) -> Any:
    left, right, closed = body
    if closed not in ("left", "right", "both", "neither"):
        raise WireError("an interval closed on no known side")
    return _library("pandas").Interval(_decode(left, depth), _decode(right, depth), closed=closed)


def _categorical_dtype(body: Any, depth: int) -> Any:
    categories, ordered = body
    return _library("pandas").CategoricalDtype(None if categories is None else _index(categories, depth), bool(ordered))


def _pandas_dtype(body: Any, depth: int) -> Any:
    if type(body) is not str:
        raise WireError("expected a dtype name")
    return _library("pandas").api.types.pandas_dtype(body)


def _sparse(body: Any, depth: int) -> Any:
    sparse = _library("scipy.sparse")
    name = body["type"]
    if name not in _SPARSE_NAMES:
        raise WireError(f"unknown sparse type {name!r:.40}")
    cls = getattr(sparse, name)
    shape = tuple(int(n) for n in body["shape"])
    parts = [_decode(p, depth) for p in body["parts"]]
    fmt = name[:3]
    if fmt in ("csr", "csc", "bsr"):
        data, indices, indptr = parts
        matrix = cls((data, indices, indptr), shape=shape)
        # Out-of-range indices would send SciPy's C loops outside their arrays: check them all.
        matrix.check_format(full_check=True)
        return matrix
    data, row, col = parts
    coo = (
        sparse.coo_array((data, (row, col)), shape=shape)
        if name.endswith("array")
        else sparse.coo_matrix((data, (row, col)), shape=shape)
    )
    return coo if fmt == "coo" else cls(coo)


def _torch_tensor(body: Any, depth: int) -> Any:
    torch = _library("torch")
    dtype = getattr(torch, str(body["dtype"]), None)
    if not isinstance(dtype, torch.dtype):
        raise WireError("unknown torch dtype")
    array = _decode(body["a"], depth)
    tensor = torch.tensor(array) if array.dtype.hasobject else torch.from_numpy(array.copy())
    tensor = tensor.to(dtype)
    if body.get("grad") is True and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def _tensorflow_tensor(body: Any, depth: int) -> Any:
    tf = _library("tensorflow")
    dtype = tf.as_dtype(str(body["dtype"]))
    array = _decode(body["a"], depth)
    if body.get("variable") is True:
        return tf.Variable(array, dtype=dtype)
    return tf.constant(array, dtype=dtype)


def _opaque(body: Any, depth: int) -> Opaque:
    return Opaque(str(body)[:100])


_DECODERS: dict[str, Callable[[Any, int], Any]] = {
    "f": _float,
    "t": lambda body, depth: tuple(_items(body, depth)),
    "d": _dict,
    "s": lambda body, depth: set(_items(body, depth)),
    "fs": lambda body, depth: frozenset(_items(body, depth)),
    "b": lambda body, depth: _unb64(body),
    "c": lambda body, depth: complex(*(float(_decode(x, depth)) for x in body)),
    "pydatetime": _datetime(dt.datetime),
    "pydate": _datetime(dt.date),
    "pytime": _datetime(dt.time),
    "pytd": _timedelta,
    "nd": _array,
    "ndo": _object_array,
    "ndm": _matrix,
    "ng": _numpy_scalar,
    "dtype": _dtype,
    "dtype_o": _object_dtype,
    "pdf": _dataframe,
    "ps": _series,
    "pi": _index_value,
    "pcat": _categorical,
    "pea": _extension,
    "pdtz": _datetime_tz,
    "nat": lambda body, depth: _library("pandas").NaT,
    "na": lambda body, depth: _library("pandas").NA,
    "pts": _timestamp,
    "ptd": lambda body, depth: _library("pandas").Timedelta(int(body)),
    "pp": _period,
    "piv": _interval,
    "pcdt": _categorical_dtype,
    "pdt": _pandas_dtype,
    "sp": _sparse,
    "tt": _torch_tensor,
    "tf": _tensorflow_tensor,
    "x": _opaque,
}

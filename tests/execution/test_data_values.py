"""DS-1000 results as data (execution.data_values): rebuilt with their types, and never trusted."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from evolcoder.execution import data_values
from evolcoder.execution.ds1000_env import ensure_env
from evolcoder.execution.values import Opaque, WireError

SRC = Path(__file__).resolve().parents[2] / "src"

# Run in the DS-1000 environment, where the codec runs: each value crosses as JSON text and must come
# back equal, with the same type and dtype. Prints the names of those that do not.
ROUND_TRIP = textwrap.dedent(
    """
    import datetime, json, sys
    from collections import namedtuple
    import numpy as np, pandas as pd, scipy.sparse as sp, torch, pytz
    import tensorflow as tf
    from evolcoder.execution import data_values

    times = pd.date_range("2024-01-01", periods=3, freq="D")
    cases = {
        "plain": [1, 2.5, float("nan"), -0.0, "s", None, True, 2**80, b"\\x00", 1 + 2j],
        "containers": {("a", 1): {1, 2}, "f": frozenset({3}), "t": (1, [2, (3,)])},
        "datetimes": [datetime.datetime(2024, 1, 2, 3, 4), datetime.date(2024, 1, 2), datetime.timedelta(3, 4, 5)],
        "int array": np.arange(12, dtype=np.int32).reshape(3, 4),
        "float array": np.array([[1.5, np.nan], [np.inf, -0.0]]),
        "fortran array": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "string array": np.array(["a", "bc"]),
        "datetime array": np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        "structured array": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        "object array": np.array([[1, "a"], [None, [2, 3]]], dtype=object),
        "matrix": np.matrix([[1, 2], [3, 4]]),
        "numpy scalars": [np.float64(1.5), np.int64(3), np.bool_(True), np.str_("x"), np.datetime64("2024-01-01")],
        "dtypes": [np.dtype("float32"), np.dtype(object), np.dtype([("a", "i4")])],
        "frame": pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [1.5, np.nan, 3.0]}, index=times),
        "frame with duplicate columns": pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]),
        "frame with a multi-index": pd.DataFrame(
            {"v": [1, 2, 3, 4]},
            index=pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"]),
        ).T,
        "extension columns": pd.DataFrame(
            {
                "cat": pd.Categorical(["b", "a", "b"], categories=["b", "a"], ordered=True),
                "int": pd.array([1, None, 3], dtype="Int64"),
                "bool": pd.array([True, None, False], dtype="boolean"),
                "str": pd.array(["a", None, "c"], dtype="string"),
                "tz": pd.date_range("2024-03-10", periods=3, freq="H", tz="US/Eastern"),
                "offset": pd.to_datetime(["2024-01-01 00:00-06:00"] * 3),
                "period": pd.period_range("2024-01", periods=3, freq="M"),
                "interval": pd.arrays.IntervalArray.from_breaks([0, 1, 2, 3]),
                "delta": pd.to_timedelta([1, 2, 3], unit="s"),
            }
        ),
        "empty frame": pd.DataFrame(index=pd.RangeIndex(0, 3), columns=["a"]),
        "series": pd.Series([1.0, 2.0], index=["x", "y"], name=("a", 1)),
        "indexes": [pd.Index([3, 1]), pd.Index(["a", "b"], name="n"), pd.RangeIndex(2, 10, 3), times,
                    pd.CategoricalIndex(["a", "b", "a"]), pd.timedelta_range("1 day", periods=2)],
        "pandas scalars": [pd.Timestamp("2024-01-01 12:00"), pd.Timestamp("2024-01-01", tz="Europe/Paris"),
                           pd.Timedelta("1h"), pd.Period("2024-01", "M"), pd.Interval(0, 1, "left"), pd.NaT],
        "named tuple": namedtuple("R", "statistic pvalue")(0.5, 0.1),
        "sparse": [sp.csr_matrix(np.eye(3)), sp.csc_matrix(np.eye(2)), sp.coo_matrix(np.eye(2)),
                   sp.lil_matrix(np.eye(2)), sp.dok_matrix(np.eye(2)), sp.dia_matrix(np.eye(2)),
                   sp.bsr_matrix(np.eye(4), blocksize=(2, 2)), sp.csr_array(np.eye(2))],
        "torch": [torch.arange(6).reshape(2, 3), torch.tensor([1.5], dtype=torch.bfloat16),
                  torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor(True)],
        "tensorflow": [tf.constant([[1, 2]], dtype=tf.int64), tf.Variable([1.5, 2.5]), tf.constant([b"a", b"bc"])],
    }

    def same(a, b):
        if type(a) is not type(b):
            return False
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True, check_freq=True, check_flags=True)
            return True
        if isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b, check_exact=True)
            return True
        if isinstance(a, pd.Index):
            pd.testing.assert_index_equal(a, b, exact=True, check_exact=True)
            return getattr(a, "freq", None) == getattr(b, "freq", None)
        if isinstance(a, np.ndarray):
            return a.dtype == b.dtype and a.shape == b.shape and (a.dtype.kind == "O" and a.tolist() == b.tolist()
                or a.dtype.kind != "O" and a.tobytes() == b.tobytes())
        if sp.issparse(a):
            return a.dtype == b.dtype and a.shape == b.shape and (a != b).nnz == 0
        if isinstance(a, torch.Tensor):
            return a.dtype == b.dtype and a.requires_grad == b.requires_grad and torch.equal(a.detach(), b.detach())
        if isinstance(a, (tf.Tensor, tf.Variable)):
            return a.dtype == b.dtype and a.shape == b.shape and bool(tf.reduce_all(a == b))
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, float) and a != a:
            return b != b
        if a is pd.NaT:
            return b is pd.NaT
        return a == b and str(a) == str(b)

    failed = []
    for name, value in cases.items():
        try:
            wire = data_values.encode(value)
            back = data_values.decode(json.loads(json.dumps(wire)))
            expected = tuple(value) if name == "named tuple" else value
            if not data_values.crosses(wire) or not same(expected, back):
                failed.append(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print(json.dumps(failed))
    """
)


@pytest.fixture(scope="module")
def ds1000_python() -> str:
    return str(ensure_env(progress=False))


def test_values_rebuild_with_their_types_in_the_ds1000_env(ds1000_python: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run([ds1000_python, "-c", ROUND_TRIP], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_what_cannot_cross_is_opaque_and_equal_to_nothing() -> None:
    class Liar(list):
        def __eq__(self, other: object) -> bool:
            return True

    for value in (Liar([1]), object(), lambda: 1, np.array([1]).view(type("Sub", (np.ndarray,), {}))):
        wire = data_values.encode(value)
        assert not data_values.crosses(wire)
        back = data_values.decode(wire)
        assert type(back) is Opaque and back != value and back != back
    assert not data_values.crosses(data_values.encode({"k": [1, object()]}))


DEEP: list = [1]
for _ in range(200):
    DEEP = [DEEP]


def _npy(array: np.ndarray, allow_pickle: bool = False) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    "wire",
    [
        {"nd": _npy(np.array([object()], dtype=object), allow_pickle=True)},  # a pickle inside .npy
        {"nd": "not base64!"},
        {"zz": 1},  # unknown tag
        {"t": 1},
        {"d": [[1]]},
        {"d": [[[1], 2]]},  # an unhashable key
        {"ng": _npy(np.arange(3))},  # a "scalar" with a shape
        {"sp": {"type": "os.system", "shape": [1], "parts": []}},
        {"tt": {"dtype": "__class__", "a": {"nd": _npy(np.arange(2))}}},
        {"piv": [0, 1, "sideways"]},
        {"a": 1, "b": 2},
        DEEP,
    ],
)
def test_malformed_or_hostile_wire_data_is_refused(wire: object) -> None:
    with pytest.raises(WireError):
        data_values.decode(json.loads(json.dumps(wire)))


def test_sparse_indices_out_of_range_are_refused() -> None:
    """SciPy's C loops trust a CSR matrix's indices: one out of range must not reach them."""
    sparse = pytest.importorskip("scipy.sparse")
    for matrix in (sparse.csr_matrix(np.eye(3)), sparse.coo_matrix(np.eye(3)), sparse.dia_matrix(np.eye(3))):
        wire = data_values.encode(matrix)
        wire["sp"]["parts"][1] = {"nd": _npy(np.array([0, 1, 10**6], dtype=np.int32))}
        with pytest.raises(WireError):
            data_values.decode(wire)


def test_a_frame_whose_parts_do_not_fit_is_refused() -> None:
    pd = pytest.importorskip("pandas")
    wire = data_values.encode(pd.DataFrame({"a": [1, 2]}))
    wire["pdf"]["arrays"][0] = {"nd": _npy(np.arange(5))}
    with pytest.raises(WireError):
        data_values.decode(wire)


def test_encoding_never_imports_a_library() -> None:
    """The candidate's result is taken apart with what its own code imported, nothing more."""
    code = "import sys; from evolcoder.execution import data_values as d; d.encode([1]); print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

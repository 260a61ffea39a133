"""Our verdicts against evalplus 0.3.1's on the same samples (the peer tool, run for real).

Runs benchmarks/eval_speed.py on the first tasks of HumanEval+ and MBPP+: for each task the
reference solution and generic broken variants (perturbed after a few calls, returning None,
raising, looping). Every verdict must agree, except the documented evalplus bug on HumanEval/32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evolcoder.data.fetch import data_dir_from_env

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_verdicts_agree_with_evalplus(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "eval_speed.py"),
        "--limit",
        "12",
        "--benchmarks",
        "humaneval+,mbpp+",
        "--workers",
        "2",
        "--data-dir",
        str(data_dir_from_env()),
        "--work-dir",
        str(tmp_path),
        "--real-samples",  # the synthetic variants only: the real-sample sets take minutes
        "none",
        "--before",
        "none",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "eval_speed.json").read_text())
    for name in ("humaneval+", "mbpp+"):
        bench = report["benchmarks"][name]
        (peer,) = bench["evalplus"]
        assert peer["rows_compared"] == bench["samples"] > 12 * 4
        unexplained = [d for d in peer["disagreements"] if not d["known"]]
        assert unexplained == [], unexplained
        assert peer["agree_exact"] + peer["known_disagreements"] == bench["samples"]

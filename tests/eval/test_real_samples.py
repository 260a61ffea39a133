"""Our verdicts on 3,796 real model programs against evalplus 0.3.1's, sample by sample.

``real-samples/`` (see its PROVENANCE.md) holds programs that ChatGPT, GPT-4, CodeLlama,
StarCoder and CodeGen wrote, with the results file evalplus 0.3.1 wrote for them. Every base
and plus verdict must agree, except the cases listed in EXPLAINED, each with its reason.

Two kinds of difference this test found and that are fixed: annotations naming an unimported
type (``def f(xs: List[int])``) passed because the driver compiled with its own ``__future__``
flags (22 samples), and HumanEval/130's 1M-element output, compared by digest, told ``[1, 2]``
from ``[1.0, 2.0]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.config import EvalConfig
from evolcoder.eval.runner import evaluate

REAL = data_dir_from_env() / "real-samples"
FILLER = "# filler row:"  # rows evalplus needed for tasks a source has no sample of

# (file, task_id, index among the task's rows) -> why the two harnesses differ there.
EXPLAINED = {
    ("mapcoder_humaneval", "HumanEval/32", 4): (
        "evalplus 0.3.1 fails every find_zero solution, the reference too: its special-oracle branch "
        "`continue`s before recording the input as passed"
    ),
    ("mapcoder_humaneval", "HumanEval/96", 5): (
        "trial division that takes 0.86 CPU-s on plus input 129 against the 1 s minimum limit of both "
        "harnesses: on a loaded machine it passes or times out in either"
    ),
    ("codet-codegen16b_humaneval", "HumanEval/79", 1): (
        "the program ends in `import matplotlib.pyplot`: evalplus's environment had no matplotlib, ours has it"
    ),
    ("codet-codegen16b_humaneval", "HumanEval/116", 0): (
        "the program ends in `import torch`: evalplus's environment had no torch, ours has it"
    ),
    ("ldb_mbpp", "Mbpp/255", 0): (
        "a correct one-liner whose plus input (5 colours, 77 picks) returns 1.6M tuples; evalplus's run, on a "
        "loaded 2-CPU machine, hit its time limit; ours scales the limit by the reference's measured time"
    ),
    ("ldb_mbpp", "Mbpp/392", 0): (
        "a correct linear DP on n = 1,000,000: evalplus's run hit its time limit on a loaded machine"
    ),
}

FILES = {  # real (non-filler) samples per file, from PROVENANCE.md: 3,796 in all
    "codet-codegen16b_humaneval": 820,
    "ldb_humaneval": 656,
    "ldb_mbpp": 654,
    "mapcoder-analogical-raw_humaneval": 164,
    "mapcoder-analogical-raw_mbpp": 354,
    "mapcoder_humaneval": 1148,
}


def test_the_files_hold_every_real_sample() -> None:
    assert sum(FILES.values()) == 3796
    found = sorted(p.name.removesuffix(".evalplus_results.json") for p in REAL.glob("*.evalplus_results.json"))
    assert found == sorted(FILES)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", sorted(FILES))
def test_verdicts_agree_with_evalplus_on_real_programs(name: str, tmp_path: Path, private_cache: Path) -> None:
    benchmark = "mbpp+" if "mbpp" in name else "humaneval+"
    config = EvalConfig(benchmark=benchmark, samples=REAL / f"{name}.jsonl", output_dir=tmp_path, progress=False)
    ours = evaluate(config)["eval"]
    theirs = json.loads((REAL / f"{name}.evalplus_results.json").read_text())["eval"]
    compared, disagreements = 0, {}
    for task_id, rows in theirs.items():
        assert len(ours[task_id]) == len(rows), task_id
        for index, (peer, mine) in enumerate(zip(rows, ours[task_id], strict=True)):
            if mine["solution"].startswith(FILLER):
                continue
            compared += 1
            verdicts = ((mine["base_status"], mine["plus_status"]), (peer["base_status"], peer["plus_status"]))
            if verdicts[0] != verdicts[1]:
                disagreements[(name, task_id, index)] = verdicts
    assert compared == FILES[name]
    unexplained = {key: v for key, v in disagreements.items() if key not in EXPLAINED}
    assert unexplained == {}, unexplained
    print(f"{name}: {compared - len(disagreements)}/{compared} agree; explained: {sorted(disagreements)}")

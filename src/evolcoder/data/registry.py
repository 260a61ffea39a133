"""The benchmark and seed files evolcoder knows about, with their official URLs and checksums.

Checksums and sizes are those of the files exactly as published upstream (see
``shared/data/MANIFEST.md`` for provenance). A ``sha256`` of ``None`` means no verified copy
was available when the registry was written; such a file can only be sanity-checked (size if
known, and that a ``.json`` file parses), not verified.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One data file: where it comes from and how to recognise a good copy.

    ``filename`` is the path relative to a data folder (or the cache's ``data/`` folder); it may
    contain a subfolder, e.g. ``seaborn-data/tips.csv``.
    """

    key: str
    filename: str
    url: str
    sha256: str | None
    size: int | None
    license: str
    description: str


_GITHUB = "https://github.com"
_EVALPLUS_HE = f"{_GITHUB}/evalplus/humanevalplus_release/releases/download/v0.1.10"
_EVALPLUS_MBPP = f"{_GITHUB}/evalplus/mbppplus_release/releases/download/v0.2.0"
_MBPP = f"{_GITHUB}/google-research/google-research/raw/master/mbpp"
_CODEALPACA = f"{_GITHUB}/sahil280114/codealpaca/raw/master/data"
_SEABORN = f"{_GITHUB}/mwaskom/seaborn-data/raw/master"

_FILES = [
    DataFile(
        key="humaneval",
        filename="HumanEval.jsonl.gz",
        url=f"{_GITHUB}/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
        sha256="b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
        size=44877,
        license="MIT",
        description="HumanEval: 164 hand-written Python problems (OpenAI).",
    ),
    DataFile(
        key="humaneval_plus",
        filename="HumanEvalPlus-v0.1.10.jsonl.gz",
        url=f"{_EVALPLUS_HE}/HumanEvalPlus.jsonl.gz",
        sha256="272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
        size=925932,
        license="Apache-2.0",
        description="HumanEval+ v0.1.10: HumanEval with EvalPlus extra inputs.",
    ),
    DataFile(
        key="humaneval_plus_mini",
        filename="HumanEvalPlus-Mini-v0.1.10.jsonl.gz",
        url=f"{_EVALPLUS_HE}/HumanEvalPlus-Mini.jsonl.gz",
        sha256="91486741f1627101021fbe50523df08eebb5b0bf5e804b633dcd5ca3c14dbd2f",
        size=57064,
        license="Apache-2.0",
        description="HumanEval+ Mini v0.1.10: HumanEval+ with a reduced set of extra inputs.",
    ),
    DataFile(
        key="mbpp",
        filename="mbpp.jsonl",
        url=f"{_MBPP}/mbpp.jsonl",
        sha256="ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
        size=563743,
        license="CC-BY-4.0",
        description="MBPP (full): 974 crowd-sourced Python problems (Google Research).",
    ),
    DataFile(
        key="mbpp_sanitized",
        filename="sanitized-mbpp.json",
        url=f"{_MBPP}/sanitized-mbpp.json",
        sha256="ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
        size=255053,
        license="CC-BY-4.0",
        description="MBPP (sanitized): 427 hand-verified MBPP problems, one JSON array.",
    ),
    DataFile(
        key="mbpp_plus",
        filename="MbppPlus-v0.2.0.jsonl.gz",
        url=f"{_EVALPLUS_MBPP}/MbppPlus.jsonl.gz",
        sha256="af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
        size=336032,
        license="Apache-2.0",
        description="MBPP+ v0.2.0: 378 sanitized MBPP problems with EvalPlus extra inputs.",
    ),
    DataFile(
        key="ds1000",
        filename="ds1000.jsonl.gz",
        url=f"{_GITHUB}/xlang-ai/DS-1000/raw/main/data/ds1000.jsonl.gz",
        sha256="e8c6daa9d7223976bce0296644f3933f78d7f47830669ff05cd61da62c6ba9b3",
        size=418089,
        license="CC-BY-SA-4.0",
        description="DS-1000: 1000 data-science problems over seven Python libraries.",
    ),
    DataFile(
        key="code_alpaca_2k",
        filename="code_alpaca_2k.json",
        url=f"{_CODEALPACA}/code_alpaca_2k.json",
        sha256="9cb7352683bd2f530ce81eff7f8d58ccbe1a4bdf28afebbe9f80ec687256066d",
        size=796189,
        license="CC-BY-NC-4.0",
        description="Code Alpaca 2k: 2017 instruction/input/output seed records.",
    ),
    DataFile(
        key="code_alpaca_20k",
        filename="code_alpaca_20k.json",
        url=f"{_CODEALPACA}/code_alpaca_20k.json",
        # No verified copy was available, so there is nothing to pin: only a JSON sanity check.
        sha256=None,
        size=None,
        license="CC-BY-NC-4.0",
        description="Code Alpaca 20k: about 20k instruction seed records (unverified).",
    ),
    DataFile(
        key="seaborn_exercise",
        filename="seaborn-data/exercise.csv",
        url=f"{_SEABORN}/exercise.csv",
        sha256="d67ff5896d7d262bba3ec0bd7a8db410e56afc96a0436e08dfe53016d5f1e4e6",
        size=2735,
        license="unstated (public example data)",
        description="seaborn example dataset 'exercise', used by DS-1000 Matplotlib problems.",
    ),
    DataFile(
        key="seaborn_penguins",
        filename="seaborn-data/penguins.csv",
        url=f"{_SEABORN}/penguins.csv",
        sha256="e07636bd8af74260099ea2f8678e2eabbf35def579940cc76f67061ee16c06c1",
        size=13478,
        license="unstated (public example data)",
        description="seaborn example dataset 'penguins', used by DS-1000 Matplotlib problems.",
    ),
    DataFile(
        key="seaborn_planets",
        filename="seaborn-data/planets.csv",
        url=f"{_SEABORN}/planets.csv",
        sha256="a6d10044887e17396974525a366f5fa2e4b34df70f491e64eb9943de0e3d3825",
        size=36263,
        license="unstated (public example data)",
        description="seaborn example dataset 'planets', used by DS-1000 Matplotlib problems.",
    ),
    DataFile(
        key="seaborn_tips",
        filename="seaborn-data/tips.csv",
        url=f"{_SEABORN}/tips.csv",
        sha256="e54cc4d2ce1bff65d32ca60b3e4b802e06bde1d7e7caf6f796f6bf7370e863b0",
        size=9729,
        license="unstated (public example data)",
        description="seaborn example dataset 'tips', used by DS-1000 Matplotlib problems.",
    ),
]

DATA_FILES: dict[str, DataFile] = {f.key: f for f in _FILES}

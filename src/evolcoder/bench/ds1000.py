"""DS-1000 (Lai et al. 2023): 1000 data-science problems over seven Python libraries.

Each problem is a StackOverflow question turned into a completion prompt that ends where the
solution goes (after ``<code>``, ``# SOLUTION START`` or, inside a function, ``### BEGIN
SOLUTION``). Its ``code_context`` defines ``test_execution(solution)`` (and sometimes
``test_string(solution)``), which insert the solution into the problem's setup code, run it on the
test inputs and compare. This module loads the problems, gives the prompt and stop sequences,
pulls the code out of a model's answer and builds the test program the official way. The
programs need the pinned libraries of :mod:`evolcoder.execution.ds1000_env`.

Task ids are ``DS1000/<problem_id>`` (0-999); the WizardCoder paper reports DS-1000 per library.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evolcoder.bench.base import Task, read_jsonl
from evolcoder.bench.extract import code_blocks, longest_parsing_span, parses
from evolcoder.data import resolve_data_file
from evolcoder.errors import UserError

if TYPE_CHECKING:
    from evolcoder.execution.ds1000_env import ProgramResult
    from evolcoder.execution.ds1000_sandbox import DS1000Sandbox

NAME = "ds1000"
DATA_KEYS = ("ds1000", "seaborn_exercise", "seaborn_penguins", "seaborn_planets", "seaborn_tips")
SEABORN_KEYS = DATA_KEYS[1:]
N_PROBLEMS = 1000

# The libraries in the order of the WizardCoder paper's DS-1000 table (plt, np, pd, torch, scipy,
# sklearn, tf), spelled as DS-1000's metadata spells them, with their problem counts.
LIBRARIES: tuple[str, ...] = ("Matplotlib", "Numpy", "Pandas", "Pytorch", "Scipy", "Sklearn", "Tensorflow")
LIBRARY_COUNTS = {
    "Matplotlib": 155,
    "Numpy": 220,
    "Pandas": 291,
    "Pytorch": 68,
    "Scipy": 106,
    "Sklearn": 115,
    "Tensorflow": 45,
}
_LIBRARY_ALIASES = {
    "matplotlib": "Matplotlib",
    "plt": "Matplotlib",
    "numpy": "Numpy",
    "np": "Numpy",
    "pandas": "Pandas",
    "pd": "Pandas",
    "pytorch": "Pytorch",
    "torch": "Pytorch",
    "scipy": "Scipy",
    "sklearn": "Sklearn",
    "scikit-learn": "Sklearn",
    "scikit_learn": "Sklearn",
    "tensorflow": "Tensorflow",
    "tf": "Tensorflow",
}
PERTURBATIONS = ("Origin", "Surface", "Semantic", "Difficult-Rewrite")

# Problems that cannot pass offline: 819 downloads scikit-learn's California housing data.
NEEDS_NETWORK = frozenset({819})

# Hooks (evolcoder.bench.Traits): how DS-1000 differs from the EvalPlus-style benchmarks.
DEFAULT_MEMORY_MB = 8192  # the libraries (TensorFlow, PyTorch) need more room than plain Python
SAMPLE_FIELDS = ("solution", "completion", "code")  # DS-1000's own answer files say "code"
RESULT_GROUPS = (  # pass@k per library and per perturbation type, as DS-1000 and the paper report it
    ("per_library", "library", LIBRARIES),
    ("per_perturbation", "perturbation_type", PERTURBATIONS),
)

# Where a completion must stop: the end of the code block (``</code>``), the end of a Matplotlib
# solution (``# SOLUTION END``) or of a function body (``### END SOLUTION``).
STOP_SEQUENCES: tuple[str, ...] = ("</code>", "# SOLUTION END", "END SOLUTION")

# One set for a whole run of completions: in a function problem only an unindented END SOLUTION
# ends the answer (see stop_sequences); post-processing cuts the others at their marker anyway.
COMPLETION_STOPS: tuple[str, ...] = ("</code>", "# SOLUTION END", "\nEND SOLUTION")

_FUNCTION_PROMPT_END = "### BEGIN SOLUTION"


def instruction(task: DS1000Task) -> str:
    """The prompt itself: DS-1000's prompt is the problem, its code context and where to answer."""
    return task.prompt


@dataclass(frozen=True)
class DS1000Task(Task):
    """A DS-1000 problem: a :class:`Task` (kind ``ds1000``) with DS-1000's metadata.

    ``prompt`` is DS-1000's completion prompt, ``reference`` its ``reference_code`` (a snippet, not
    a whole program) and ``test`` its ``code_context`` (also available as ``code_context``).
    """

    problem_id: int = 0
    library: str = ""  # Pandas, Numpy, Matplotlib, Tensorflow, Pytorch, Scipy or Sklearn
    library_problem_id: int = 0
    perturbation_type: str = ""  # Origin, Surface, Semantic or Difficult-Rewrite
    perturbation_origin_id: int = 0
    test_case_cnt: int = 0

    @property
    def code_context(self) -> str:
        return self.test

    @property
    def is_function(self) -> bool:
        """The solution is a function body (the prompt opens the function, the test inserts it there).

        Told by the reference solution's first line of code, which is indented exactly then.
        """
        return _is_body(self.reference)


def _is_body(code: str) -> bool:
    for line in code.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line[:1].isspace()
    return False


def normalize_library(name: str) -> str:
    """DS-1000's spelling of a library name given loosely (``pandas``, ``pd``, ``torch``, ``sklearn``)."""
    key = name.strip().lower()
    if key not in _LIBRARY_ALIASES:
        raise UserError(f"unknown DS-1000 library {name!r}; choose from: {', '.join(LIBRARIES)}")
    return _LIBRARY_ALIASES[key]


def _libraries(libraries: str | Iterable[str] | None) -> set[str] | None:
    if libraries is None:
        return None
    given = [libraries] if isinstance(libraries, str) else list(libraries)
    names = [n for item in given for n in item.split(",") if n.strip()]
    if not names:
        return None
    return {normalize_library(n) for n in names}


def task_id(problem_id: int) -> str:
    return f"DS1000/{problem_id}"


NETWORK_TASK_IDS = frozenset(task_id(p) for p in NEEDS_NETWORK)


def problem_id_of(value: str | int) -> int:
    """The problem id of ``DS1000/12``, ``12`` or 12."""
    text = str(value).strip()
    match = re.fullmatch(r"(?:ds-?1000/)?(\d+)", text, re.IGNORECASE)
    if match is None or not 0 <= int(match.group(1)) < N_PROBLEMS:
        raise UserError(f"not a DS-1000 task id: {value!r} (expected DS1000/0 ... DS1000/{N_PROBLEMS - 1})")
    return int(match.group(1))


def load(
    data_dir: Path | str | None = None,
    libraries: str | Iterable[str] | None = None,
    limit: int | None = None,
) -> list[DS1000Task]:
    """The problems in id order; ``libraries`` (names or a comma-separated string) selects, then
    ``limit`` keeps the first K of the selection."""
    wanted = _libraries(libraries)
    if limit is not None and limit < 0:
        raise UserError(f"limit must be >= 0, not {limit}")
    path = resolve_data_file("ds1000", data_dir)
    tasks = []
    for row in read_jsonl(path):
        meta = row["metadata"]
        library = normalize_library(meta["library"])
        if wanted is not None and library not in wanted:
            continue
        problem_id = int(meta["problem_id"])
        tasks.append(
            DS1000Task(
                task_id=task_id(problem_id),
                prompt=row["prompt"],
                entry_point="",
                reference=row["reference_code"],
                kind="ds1000",
                test=row["code_context"],
                problem_id=problem_id,
                library=library,
                library_problem_id=int(meta["library_problem_id"]),
                perturbation_type=meta["perturbation_type"],
                perturbation_origin_id=int(meta["perturbation_origin_id"]),
                test_case_cnt=int(meta["test_case_cnt"]),
            )
        )
    tasks.sort(key=lambda t: t.problem_id)
    return tasks if limit is None else tasks[:limit]


def seaborn_data_dir(data_dir: Path | str | None = None) -> Path:
    """The folder with the seaborn example datasets some Matplotlib problems load (``SEABORN_DATA``)."""
    paths = [resolve_data_file(key, data_dir) for key in SEABORN_KEYS]
    return paths[0].parent


def prompt(task: DS1000Task) -> str:
    """DS-1000's completion prompt, as given: the model continues it with the solution."""
    return task.prompt


def stop_sequences(task: DS1000Task | None = None) -> tuple[str, ...]:
    """Where a completion of ``task`` stops.

    In a function problem ``### END SOLUTION`` sits inside the body and the ``return`` often
    follows it, so there only an unindented ``END SOLUTION`` stops (``</code>`` still does).
    """
    if task is not None and task.is_function:
        return ("</code>", "# SOLUTION END", "\nEND SOLUTION")
    return STOP_SEQUENCES


# The problems whose ``result`` is a ``torch.optim.SGD``: an optimizer, which does not cross as data
# (execution.data_values). Measured by running every reference solution's program with its result
# taken apart and rebuilt: all the others pass that way.
RESULTS_THAT_DO_NOT_CROSS = frozenset({932, 933, 934, 935})


def judged_in_process(task: DS1000Task) -> bool:
    """Whether the problem's test program runs beside the candidate: Matplotlib problems (their tests
    inspect the candidate's figure and the image it saved) and RESULTS_THAT_DO_NOT_CROSS."""
    return task.library == "Matplotlib" or task.problem_id in RESULTS_THAT_DO_NOT_CROSS


def program(task: DS1000Task, code: str) -> str:
    """The test program for ``code``, built as DS-1000's ``test_ds1000.py`` builds it."""
    context = task.code_context
    return (
        context
        + "\n"
        + f"code = {code!r}\n"
        + "test_execution(code)\n"
        + ("test_string(code)\n" if "test_string(" in context else "\n")
    )


def sandbox(
    data_dir: Path | str | None, hidden_paths: tuple[str, ...], memory_bytes: int, progress: bool
) -> tuple[DS1000Sandbox, dict]:
    """The sandbox of DS-1000's programs (its pinned environment, built on first use) and that
    environment's description, recorded with the results."""
    from evolcoder.execution.ds1000_env import describe_env, pins_hash
    from evolcoder.execution.ds1000_sandbox import ds1000_sandbox

    profile = ds1000_sandbox(
        seaborn_data_dir(data_dir), hidden_paths=hidden_paths, memory_bytes=memory_bytes, progress=progress
    )
    environment = describe_env(profile.python)
    environment["pins_hash"] = environment["pins_hash"] or pins_hash()
    return profile, environment


def setup_missing() -> str | None:
    """Why DS-1000 cannot run here (its environment is absent), or None."""
    from evolcoder.execution.ds1000_env import is_complete

    return None if is_complete() else "its environment is absent (run: evolcoder setup ds1000)"


def run_reference(
    task: DS1000Task, python: str | Path | None = None, data_dir: Path | str | None = None, **kwargs
) -> ProgramResult:
    """Run the reference solution's program in the DS-1000 environment (a trusted, unsandboxed check)."""
    from evolcoder.execution.ds1000_env import run_program

    return run_program(program(task, task.reference), python, seaborn_data=seaborn_data_dir(data_dir), **kwargs)


_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL)
_FENCE_START = re.compile(r"^[ \t]*```", re.MULTILINE)
_MARKER_LINE = re.compile(r"^[ \t]*(#+[ \t]*)?(BEGIN SOLUTION|SOLUTION START)[ \t]*$", re.MULTILINE)
_STOP_LINE = re.compile(r"^[^\n]*?(</code>|#[ \t]*SOLUTION END|END SOLUTION)", re.MULTILINE)


def postprocess(text: str, task: DS1000Task | None = None) -> str:
    """The solution code in a model's answer: a completion or a chat answer.

    DS-1000's own post-processing cuts at ``</code>``, drops fences and ``<code>`` tags and cuts at
    ``END SOLUTION``. Chat answers need a little more: prose around a fenced block or a ``<code>``
    block, reasoning in ``<think>``, an echoed ``BEGIN SOLUTION``. With ``task`` given, a fenced
    block that only repeats the prompt's code is passed over, and a solution to a function problem
    gets the shape the test inserts: a restated ``def`` is reduced to its body, a body written flush
    left is indented, and top-level code after an indented body is dropped. Other solutions are
    inserted at top level, so a common indentation is removed.
    """
    text = _THINK.sub("", text)
    first_close = text.find("</code>")
    first_fence = _FENCE_START.search(text)
    blocks = [b for b in code_blocks(text) if b.strip()] if first_fence is not None else []
    completion = first_close >= 0 and "<code>" not in text[:first_close]
    if completion and (first_fence is None or first_fence.start() > first_close):
        code = text[:first_close]  # a completion that ran on past its code block
    elif blocks:
        code = _pick_block(blocks, task)
        code = _from_code_tags(code) if "<code>" in code or "</code>" in code else code
    elif "<code>" in text:
        code = _from_code_tags(text)
    else:
        code = text.split("</code>")[0]
    code = _cut_at_stop(code, in_function=task is not None and task.is_function)
    code = _MARKER_LINE.sub("", code)
    code = _strip_blank_edges(code)
    if task is not None and task.is_function:
        return _as_function_body(code, task)
    if code.strip() and not parses(code):
        dedented = textwrap.dedent(code)
        code = dedented if parses(dedented) else (longest_parsing_span(code) or code)
    return code


def _pick_block(blocks: list[str], task: DS1000Task | None) -> str:
    """The first fenced block that is more than a copy of the prompt's own code."""
    if task is not None and len(blocks) > 1:
        known = {line.strip() for line in task.prompt.splitlines() if line.strip()}
        for block in blocks:
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            if any(line not in known for line in lines):
                return block
    return blocks[0]


def _from_code_tags(text: str) -> str:
    """The content of the ``<code>`` block that holds the answer: the one after ``BEGIN SOLUTION``, else the last."""
    pairs = re.findall(r"<code>(.*?)(?:</code>|\Z)", text, re.DOTALL)
    if not pairs:
        return text.split("</code>")[0]
    after = text.rfind("BEGIN SOLUTION")
    if after >= 0:
        tail = re.findall(r"<code>(.*?)(?:</code>|\Z)", text[after:], re.DOTALL)
        if tail and tail[0].strip():
            return tail[0]
    return next((p for p in reversed(pairs) if p.strip()), pairs[-1])


def _cut_at_stop(code: str, in_function: bool = False) -> str:
    """Cut at the first stop marker; a marker alone on its line goes with its whole line.

    Inside a function an indented ``### END SOLUTION`` closes only the solution, not the body (the
    ``return`` often follows it), so there it is dropped and the body kept.
    """
    pos = 0
    while (match := _STOP_LINE.search(code, pos)) is not None:
        line_start = code.rfind("\n", 0, match.start(1)) + 1
        prefix = code[line_start : match.start(1)]
        alone = not prefix.strip(" \t#")
        if in_function and match.group(1) == "END SOLUTION" and alone and prefix[:1] in (" ", "\t"):
            line_end = code.find("\n", match.end(1))
            code = code[:line_start] + ("" if line_end < 0 else code[line_end + 1 :])
            pos = line_start
            continue
        return code[:line_start] if alone else code[: match.start(1)]
    return code


def _strip_blank_edges(code: str) -> str:
    lines = code.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _function_name(prompt_text: str) -> str | None:
    names = re.findall(r"^def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", prompt_text, re.MULTILINE)
    return names[-1] if names else None


def _as_function_body(code: str, task: DS1000Task) -> str:
    """Shape ``code`` as the body of the function the prompt opens."""
    last = task.prompt.rstrip().splitlines()[-1]
    indent = last[: len(last) - len(last.lstrip())] if last.lstrip().startswith("#") else ""
    indent = indent or "    "
    name = _function_name(task.prompt)
    lines = code.splitlines()
    if name is not None:
        for i, line in enumerate(lines):
            if re.match(rf"def\s+{re.escape(name)}\s*\(", line):
                body = []
                for rest in lines[i + 1 :]:
                    if rest.strip() and not rest[:1].isspace():
                        break
                    body.append(rest)
                return _strip_blank_edges("\n".join(body))
    if lines and not any(line[:1].isspace() for line in lines if line.strip()):
        return "\n".join(indent + line if line.strip() else line for line in lines) + "\n"
    if lines and lines[0][:1].isspace():  # an indented body: what follows at top level is not part of it
        for i, line in enumerate(lines):
            if line.strip() and not line[:1].isspace():
                return _strip_blank_edges("\n".join(lines[:i]))
    return code

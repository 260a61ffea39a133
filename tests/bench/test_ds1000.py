"""DS-1000: loading the real file, prompts, stop sequences, post-processing and test programs."""

from __future__ import annotations

import ast
import collections
import re
import warnings

import pytest

from evolcoder.bench import ds1000
from evolcoder.bench.base import Task
from evolcoder.data.fetch import data_dir_from_env

_cache: list[ds1000.DS1000Task] = []


def tasks() -> list[ds1000.DS1000Task]:
    if not _cache:
        _cache.extend(ds1000.load(data_dir_from_env()))
    return _cache


def task(problem_id: int) -> ds1000.DS1000Task:
    return tasks()[problem_id]


def compile_quietly(source: str, name: str) -> None:
    """Compile as the test would; DS-1000's own code has invalid escapes ("\\s" in plain strings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile(source, name, "exec")


def same_code(a: str, b: str, function: bool = False) -> bool:
    """Equal as Python (comments and blank lines aside); a function body is compared inside a def."""

    def tree(code: str) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.dump(ast.parse("def _f():\n" + code if function else code))

    return tree(a) == tree(b)


def test_loads_all_1000_with_the_manifest_counts() -> None:
    loaded = tasks()
    assert len(loaded) == 1000
    assert [t.task_id for t in loaded] == [f"DS1000/{i}" for i in range(1000)]
    assert [t.problem_id for t in loaded] == list(range(1000))
    assert all(isinstance(t, Task) and t.kind == "ds1000" for t in loaded)
    # shared/data/MANIFEST.md: Pandas 291, Numpy 220, Matplotlib 155, Sklearn 115, Scipy 106,
    # Pytorch 68, Tensorflow 45; Origin 452, Semantic 234, Difficult-Rewrite 162, Surface 152.
    by_library = collections.Counter(t.library for t in loaded)
    assert by_library == {
        "Pandas": 291,
        "Numpy": 220,
        "Matplotlib": 155,
        "Sklearn": 115,
        "Scipy": 106,
        "Pytorch": 68,
        "Tensorflow": 45,
    }
    assert by_library == ds1000.LIBRARY_COUNTS
    assert set(ds1000.LIBRARIES) == set(by_library)
    assert collections.Counter(t.perturbation_type for t in loaded) == {
        "Origin": 452,
        "Semantic": 234,
        "Difficult-Rewrite": 162,
        "Surface": 152,
    }
    for t in loaded:
        assert "def test_execution(" in t.code_context
        assert t.code_context == t.test
        assert t.reference.strip()
        assert t.test_case_cnt >= 0  # 0 for problems judged by test_string alone (852)
        assert t.perturbation_type in ds1000.PERTURBATIONS
    assert sum("def test_string(" in t.code_context for t in loaded) == 159
    # Library-local ids count from 0 within each library.
    for library in ds1000.LIBRARIES:
        local = [t.library_problem_id for t in loaded if t.library == library]
        assert local == list(range(len(local)))


def test_metadata_of_the_first_problem() -> None:
    first = task(0)
    assert (first.library, first.perturbation_type, first.perturbation_origin_id) == ("Pandas", "Origin", 0)
    assert first.prompt.startswith("Problem:\nI have the following DataFrame:")
    assert first.reference == "def g(df, List):\n    return df.iloc[List]\n\nresult = g(df.copy(), List)\n"


def test_selects_by_library_and_limit() -> None:
    data = data_dir_from_env()
    picked = ds1000.load(data, libraries="pandas, torch")
    assert collections.Counter(t.library for t in picked) == {"Pandas": 291, "Pytorch": 68}
    numpy = ds1000.load(data, libraries=["np"], limit=5)
    assert [t.problem_id for t in numpy] == [t.problem_id for t in tasks() if t.library == "Numpy"][:5]
    assert len(ds1000.load(data, limit=3)) == 3
    assert ds1000.load(data, limit=0) == []
    with pytest.raises(ValueError, match="unknown DS-1000 library 'jax'"):
        ds1000.load(data, libraries="jax")
    with pytest.raises(ValueError):
        ds1000.load(data, limit=-1)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Pandas", "Pandas"),
        ("pd", "Pandas"),
        ("NUMPY", "Numpy"),
        ("plt", "Matplotlib"),
        ("torch", "Pytorch"),
        ("PyTorch", "Pytorch"),
        ("tf", "Tensorflow"),
        ("scipy", "Scipy"),
        ("scikit-learn", "Sklearn"),
        ("sklearn", "Sklearn"),
    ],
)
def test_library_names_are_normalised(given: str, name: str) -> None:
    assert ds1000.normalize_library(given) == name


def test_task_ids() -> None:
    assert ds1000.problem_id_of("DS1000/12") == 12
    assert ds1000.problem_id_of("12") == 12
    assert ds1000.problem_id_of(999) == 999
    for wrong in ("DS1000/1000", "HumanEval/1", "x"):
        with pytest.raises(ValueError):
            ds1000.problem_id_of(wrong)


def test_prompt_is_the_completion_prompt_as_given() -> None:
    endings = collections.Counter()
    for t in tasks():
        assert ds1000.prompt(t) == t.prompt
        last = t.prompt.rstrip().splitlines()[-1].strip()
        endings[last] += 1
    assert endings == {"<code>": 774, "# SOLUTION START": 155, "### BEGIN SOLUTION": 71}
    assert ds1000.STOP_SEQUENCES == ("</code>", "# SOLUTION END", "END SOLUTION")
    assert ds1000.stop_sequences(task(0)) == ds1000.STOP_SEQUENCES
    function_task = next(t for t in tasks() if t.prompt.rstrip().endswith("### BEGIN SOLUTION"))
    assert function_task.is_function
    assert "END SOLUTION" not in ds1000.stop_sequences(function_task)  # "    ### END SOLUTION" is inside the body
    assert sum(t.is_function for t in tasks()) == 72  # the 71 above and problem 978


def test_postprocess_keeps_every_reference_solution_in_every_wrapping() -> None:
    for t in tasks():
        ref = t.reference
        wrapped = [
            ref,
            ref + "\n</code>\nEND SOLUTION\n<code>\nprint(result)\n</code>",  # a completion that ran on
            "Here is the solution:\n\n```python\n" + ref + "```\n\nThis works because ...",
            "A:\n<code>\n" + ref + "</code>\nThis does it.",
            "<think>\nThe user wants ... ```python\nwrong = 1\n```\n</think>\n```python\n" + ref + "```",
        ]
        for text in wrapped:
            assert same_code(ds1000.postprocess(text, t), ref, t.is_function), (t.task_id, text[:200])


PANDAS_CHAT = """To reorder the rows according to the list, you can use `iloc`:

```python
result = df.iloc[List]
```

`iloc` selects rows by position, so the index labels follow the rows.
"""


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # A completion stopped at the stop sequence, or one that ran on past it.
        ("result = df.iloc[List]\n", "result = df.iloc[List]\n"),
        ("result = df.iloc[List]\n</code>\nEND SOLUTION\n<code>\nprint(result)", "result = df.iloc[List]\n"),
        ("result = df.iloc[List]\nEND SOLUTION\n", "result = df.iloc[List]\n"),
        # Chat answers: fenced code with prose around it, <code> tags, echoed markers.
        (PANDAS_CHAT, "result = df.iloc[List]\n"),
        ("```py\nresult = df.iloc[List]", "result = df.iloc[List]\n"),  # cut off before the closing fence
        ("Use:\n<code>\nresult = df.iloc[List]\n</code>\nDone.", "result = df.iloc[List]\n"),
        ("BEGIN SOLUTION\n<code>\nresult = df.iloc[List]\n</code>\nEND SOLUTION", "result = df.iloc[List]\n"),
        ("```python\n<code>\nresult = df.iloc[List]\n</code>\n```", "result = df.iloc[List]\n"),
        ("<think>Maybe `df.loc`? No.</think>\n```python\nresult = df.iloc[List]\n```", "result = df.iloc[List]\n"),
        # Prose and code without any markup: the part that is code.
        ("You can do this:\nresult = df.iloc[List]\nThat's it!", "result = df.iloc[List]\n"),
        # An indented fenced block (inside a list item) is inserted at top level.
        ("1. Reorder:\n   ```python\n   result = df.iloc[List]\n   ```", "result = df.iloc[List]\n"),
    ],
)
def test_postprocess_chat_and_completion_answers(text: str, code: str) -> None:
    assert ds1000.postprocess(text, task(0)) == code
    assert ds1000.postprocess(text) == code


def test_postprocess_matplotlib_completion_stops_at_solution_end() -> None:
    plot = task(511)
    assert plot.library == "Matplotlib" and plot.prompt.rstrip().endswith("# SOLUTION START")
    text = 'plt.plot(x, y, label="x-y")\nplt.legend()\n# SOLUTION END\n\nplt.show()\n'
    assert ds1000.postprocess(text, plot) == 'plt.plot(x, y, label="x-y")\nplt.legend()\n'


def test_postprocess_skips_a_block_that_only_repeats_the_prompt() -> None:
    first = task(0)
    setup = first.prompt.split("<code>\n")[1].split("</code>")[0]
    text = f"Your data:\n```python\n{setup}```\nThe answer:\n```python\nresult = df.iloc[List]\n```\n"
    assert ds1000.postprocess(text, first) == "result = df.iloc[List]\n"
    assert ds1000.postprocess(text).startswith("import pandas as pd")  # without the task: the first block


def test_postprocess_shapes_function_bodies() -> None:
    t = next(t for t in tasks() if t.prompt.rstrip().endswith("### BEGIN SOLUTION") and "def f(df" in t.prompt)
    body = "    result = df.where(df.apply(lambda x: x.map(x.value_counts())) >= 2, 'other')\n    return result\n"
    # The whole function restated in a chat answer: its body.
    restated = (
        "Here you go:\n```python\nimport pandas as pd\n\ndef f(df=example_df):\n"
        + body
        + "\nprint(f())\n```\nThis replaces rare values."
    )
    assert ds1000.postprocess(restated, t) == body
    # A body written flush left: indented.
    flush = (
        "```python\nresult = df.where(df.apply(lambda x: x.map(x.value_counts())) >= 2, 'other')\nreturn result\n```"
    )
    assert ds1000.postprocess(flush, t) == body
    # A completion: the body, an inner END SOLUTION marker dropped, top-level code after it cut.
    completion = (
        "\n    result = df.where(df.apply(lambda x: x.map(x.value_counts())) >= 2, 'other')\n"
        "    ### END SOLUTION\n    return result\n\nprint(f())\n"
    )
    assert ds1000.postprocess(completion, t) == body


def program_parts(source: str) -> tuple[str, list[str]]:
    """The solution a test program carries and the top-level calls it ends with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    code = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "code"
    )
    calls = [
        node.value.func.id
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
    ]
    return code, calls


def test_program_is_built_the_official_way() -> None:
    first = task(0)
    code = "result = df.iloc[List]\n"
    assert ds1000.program(first, code) == (
        first.code_context + "\n" + "code = 'result = df.iloc[List]\\n'\n" + "test_execution(code)\n" + "\n"
    )
    for t in tasks():
        source = ds1000.program(t, t.reference)
        compile_quietly(source, t.task_id)
        carried, calls = program_parts(source)
        assert carried == t.reference
        expected = ["test_execution", "test_string"] if "test_string(" in t.code_context else ["test_execution"]
        assert calls == expected
        # What test_execution runs: the exec context with the solution inserted compiles too.
        context = re.search(r'exec_context = r"""(.*?)"""', t.code_context, re.DOTALL)
        if context is not None:
            compile_quietly(context.group(1).replace("[insert]", t.reference), t.task_id)


def test_program_of_a_wrong_answer_still_compiles() -> None:
    source = ds1000.program(task(0), "result = None  # ''' \"\"\" \\ \n")
    compile_quietly(source, "wrong")
    assert program_parts(source)[0] == "result = None  # ''' \"\"\" \\ \n"


def test_seaborn_data_is_found_through_the_data_layer() -> None:
    folder = ds1000.seaborn_data_dir(data_dir_from_env())
    assert {p.name for p in folder.glob("*.csv")} >= {"exercise.csv", "penguins.csv", "planets.csv", "tips.csv"}

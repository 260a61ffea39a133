"""Prompts per benchmark: the paper's instruction template, the model's chat template, or base.

The paper's template is the Alpaca header with an instruction: for HumanEval "Create a Python
script for this problem:" followed by the function prompt; for MBPP the problem text followed by
its test examples.
"""

from __future__ import annotations

from evolcoder.bench import task_traits
from evolcoder.bench.base import Task

PROMPT_STYLES = ("paper", "chat", "base")

ALPACA_HEADER = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
)


def instruction(task: Task) -> str:
    """What the model is asked to do, in words."""
    own = task_traits(task).instruction
    if own is not None:  # DS-1000: the prompt itself
        return own(task)
    if not task.description:  # HumanEval: the function signature and docstring say it all
        return f"Create a Python script for this problem:\n{task.prompt}"
    if task.asserts:
        return task.description + "\nYour code should pass these tests:\n" + "\n".join(task.asserts)
    return task.description  # MBPP+: the description already ends with a test example


def paper_prompt(task: Task) -> str:
    return f"{ALPACA_HEADER}\n\n### Instruction:\n{instruction(task)}\n\n### Response:"


def chat_messages(task: Task) -> list[dict[str, str]]:
    return [{"role": "user", "content": instruction(task)}]


def base_prompt(task: Task) -> str:
    """Plain completion: HumanEval's function prompt; for MBPP a docstring with text and tests."""
    if not task.description:
        return task.prompt
    return f'"""\n{instruction(task)}\n"""\n'

"""The one evolution template and the five code heuristics it carries (WizardCoder, section 3.1).

The template asks the teacher for a harder version of a programming task by one method. The
heuristic is drawn per item from a seeded generator keyed by the run's seed and the item's id,
so a resumed or re-chunked run draws the same heuristics as an uninterrupted one.
"""

from __future__ import annotations

import random
import re

from evolcoder.errors import UserError

HEURISTICS: dict[str, str] = {
    "constraints": "Add new constraints or requirements to the task, using about ten more words.",
    "rarer_requirement": (
        "Swap one requirement that programmers meet all the time for a less common, more specific one."
    ),
    "reasoning_steps": ("If the task can be solved in only a few logical steps, make it need more steps of reasoning."),
    "misdirection": (
        "Include a short piece of code that contains a mistake, presented as a reference, so that the task "
        "is harder to get right."
    ),
    "complexity": "Demand a stricter bound on time or space complexity.",
}

# The paper uses the complexity heuristic "rarely"; the others equally often.
DEFAULT_WEIGHTS: dict[str, float] = {
    "constraints": 1.0,
    "rarer_requirement": 1.0,
    "reasoning_steps": 1.0,
    "misdirection": 1.0,
    "complexity": 0.25,
}

TEMPLATE = """You make programming exercises more challenging.
Rewrite the exercise below into a harder one with this method:
{method}

The new exercise must be complete on its own and must not contain its solution. Reply with the new \
exercise only, no heading and no comments about what you changed.

Exercise:
{instruction}"""


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    """Validated heuristic weights; the message names the flag to change."""
    unknown = sorted(set(weights) - set(HEURISTICS))
    if unknown:
        raise UserError(f"--heuristic-weights: unknown heuristic {unknown[0]!r}; known: {', '.join(HEURISTICS)}")
    for name, weight in weights.items():
        if not isinstance(weight, int | float) or weight < 0:
            raise UserError(f"--heuristic-weights: weight of {name!r} must be a number >= 0")
    if not any(weights.values()):
        raise UserError("--heuristic-weights: at least one weight must be positive")
    return {name: float(weights.get(name, 0.0)) for name in HEURISTICS}


def choose_heuristic(weights: dict[str, float], run_seed: int, item_id: str) -> str:
    """The heuristic for one item: deterministic in (seed, item id), independent of order."""
    rng = random.Random(f"{run_seed}/{item_id}")
    names = [name for name in HEURISTICS if weights.get(name, 0) > 0]
    return rng.choices(names, weights=[weights[name] for name in names])[0]


def evolution_prompt(instruction: str, heuristic: str) -> str:
    return TEMPLATE.format(method=HEURISTICS[heuristic], instruction=instruction.strip())


_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:(?:new|harder|rewritten)\s+)?(?:exercise|task|problem)\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.I
)


def clean_evolved(text: str) -> str:
    """The new exercise from the teacher's reply: trimmed, without a leading "New exercise:" label.

    Other template words are left in place on purpose: the ``copied_template`` rule eliminates them.
    """
    text = text.strip()
    match = _LABEL.match(text)
    if match and match.end() < len(text):
        text = text[match.end() :]
    return text.strip().strip('"').strip()

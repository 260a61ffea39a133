"""Code Evol-Instruct: seed instructions, elimination of failed evolutions, and decontamination."""

from evolcoder.evol.decontam import Decontaminator, benchmark_texts, near_dedup, normalize
from evolcoder.evol.filters import REASONS, eliminate, judge_prompt, parse_judgement
from evolcoder.evol.seeds import Seed, fold_input, load_seeds

__all__ = [
    "REASONS",
    "Decontaminator",
    "Seed",
    "benchmark_texts",
    "eliminate",
    "fold_input",
    "judge_prompt",
    "load_seeds",
    "near_dedup",
    "normalize",
    "parse_judgement",
]

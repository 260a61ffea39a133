"""evolcoder: Code Evol-Instruct, instruction tuning and execution-based evaluation (WizardCoder)."""

__version__ = "0.1.0"

"""Execution-based evaluation: samples, judging, pass@k, results."""

"""``evolcoder run``: the whole WizardCoder loop (evolve, train, dev-select, test) in one resumable folder."""

from evolcoder.run.config import RunConfig, load_run_config

__all__ = ["RunConfig", "load_run_config"]

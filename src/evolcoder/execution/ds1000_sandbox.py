"""The data-science profile of the sandbox, which DS-1000 programs run under.

Everything the other benchmarks get is kept: pid, mount, network, ipc and uts namespaces, a
read-only root with a private ``/tmp``, hidden home, cache and data folders, resource limits, an
unprivileged uid of its own, the audit hook. What DS-1000 needs on top:

* the interpreter of the pinned DS-1000 environment (the fork server runs in it);
* its libraries imported once per fork server (``PRELOAD``), so that a problem pays for a fork,
  not for importing pandas and TensorFlow, while each problem still runs in a fresh process;
* DS-1000's program environment (CPU only, ``MPLBACKEND=Agg``, one thread per library) and
  ``SEABORN_DATA``, whose folder is the one part of the data folder bound back, read-only (the
  rest, which holds the reference solutions, stays hidden);
* a writable working folder (the sandbox's own ``/tmp/work``, also ``HOME`` and ``TMPDIR``) where
  Matplotlib problems save their figures;
* more address space (the preloaded libraries alone map about 1.9 GB), more threads (they count
  against the process limit) and more time than a HumanEval test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evolcoder.data.fetch import cache_dir
from evolcoder.execution.ds1000_env import PROGRAM_ENV, ensure_env
from evolcoder.execution.isolation import Limits, Policy

# The modules DS-1000's code contexts and solutions import, most used first (counted over the 1000
# problems). One that does not import in the environment is skipped by the fork server, and the
# program then meets the error itself.
PRELOAD: tuple[str, ...] = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "PIL.Image",
    "PIL.PngImagePlugin",  # the image plugins Matplotlib's savefig loads on first use
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PpmImagePlugin",
    "scipy",
    "scipy.stats",
    "scipy.optimize",
    "scipy.sparse",
    "scipy.spatial",
    "scipy.spatial.distance",
    "scipy.integrate",
    "scipy.interpolate",
    "scipy.ndimage",
    "scipy.linalg",
    "scipy.special",
    "scipy.fft",
    "scipy.cluster.hierarchy",
    "sklearn",
    "sklearn.preprocessing",
    "sklearn.feature_extraction.text",
    "sklearn.svm",
    "sklearn.model_selection",
    "sklearn.datasets",
    "sklearn.pipeline",
    "sklearn.linear_model",
    "sklearn.decomposition",
    "sklearn.ensemble",
    "sklearn.cluster",
    "sklearn.feature_selection",
    "sklearn.tree",
    "sklearn.metrics",
    "sklearn.metrics.pairwise",
    "torch",
    "torch.nn.functional",
    "torch.distributed.tensor",  # imported by torch.testing.assert_close on first use (0.5 s)
    "torch._dynamo",  # imported by torch.optim on first use (0.7 s)
    "tensorflow",
    "xgboost",
    "statsmodels.api",
    "gensim.models",
)

MEMORY_BYTES = 8 << 30
WALL_SECONDS = 120.0  # the official harness's limit per problem
CPU_SECONDS = 60.0
MAX_PROCESSES = 256  # threads count too: TensorFlow and PyTorch start pools of their own


@dataclass(frozen=True)
class DS1000Sandbox:
    """What a worker pool needs to run DS-1000 programs: interpreter, policy, preloads, limits."""

    python: str
    policy: Policy
    preload: tuple[str, ...]
    env: dict[str, str]  # the fork server's environment: read by the libraries as they are imported
    limits: Limits


def ds1000_sandbox(
    seaborn_data: Path,
    hidden_paths: tuple[str, ...] = (),
    python: str | Path | None = None,
    memory_bytes: int = MEMORY_BYTES,
    preload: tuple[str, ...] = PRELOAD,
    progress: bool = True,
) -> DS1000Sandbox:
    """The profile; creates the pinned environment first if it does not exist yet."""
    interpreter = str(python) if python is not None else str(ensure_env(progress=progress))
    # Its real place: a symbolic link on the way (under /tmp, say) may not exist in the sandbox.
    seaborn = os.path.realpath(seaborn_data)
    extra_env = dict(PROGRAM_ENV)
    extra_env["SEABORN_DATA"] = seaborn
    policy = Policy(
        hidden_paths=(os.path.expanduser("~"), str(cache_dir()), *hidden_paths),
        readable_paths=(seaborn,),
        extra_env=tuple(sorted(extra_env.items())),
    )
    server_env = dict(PROGRAM_ENV)
    # Matplotlib builds its font cache when first imported: once, in a folder of its own.
    server_env["MPLCONFIGDIR"] = str(cache_dir() / "ds1000-matplotlib")
    limits = Limits(
        wall_seconds=WALL_SECONDS,
        cpu_seconds=CPU_SECONDS,
        memory_bytes=memory_bytes,
        max_processes=MAX_PROCESSES,
        max_file_bytes=256 << 20,
        tmp_bytes=512 << 20,
    )
    return DS1000Sandbox(interpreter, policy, tuple(preload), server_env, limits)

"""Facts about the machine the commands share."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: ``taskset``, cgroup cpusets), not all the machine has.

    A thread pool sized to ``os.cpu_count()`` in a process pinned to fewer cores runs several threads
    per core, and llama.cpp's threads wait for each other at every operation: on this project's
    2-core machine, generation sharing its cores with a training job finished nothing in 10 minutes
    that took one minute alone.
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1

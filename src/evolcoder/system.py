"""Facts about the machine the commands share."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator


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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (reference counting still frees memory).

    Loading a large data set (a benchmark's tasks, its cached expected outputs) builds millions of
    containers, and every automatic collection on the way walks all of them again: MBPP+'s cached
    outputs loaded in 0.49 s with the collector on, 0.13 s with it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def long_lived_data() -> Iterator[None]:
    """For the block, the collector leaves what exists now out of its walks (``gc.freeze``): data
    loaded for a whole command (tasks, expected outputs) holds no cycles, and each full collection
    in the block would otherwise walk all of it again."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

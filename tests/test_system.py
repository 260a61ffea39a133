"""Thread pools follow the CPUs a process may use, not every CPU of the machine."""

from __future__ import annotations

import os
import subprocess
import sys

from evolcoder.system import usable_cpus


def test_usable_cpus_follow_the_affinity() -> None:
    assert usable_cpus() == len(os.sched_getaffinity(0))
    one = min(os.sched_getaffinity(0))
    code = f"import os; os.sched_setaffinity(0, {{{one}}}); import evolcoder.system as s; print(s.usable_cpus())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "1\n"


def test_the_collector_is_paused_for_a_load_and_restored_after() -> None:
    import gc

    from evolcoder.system import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer pause holds
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with collector_paused():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()


def test_long_lived_data_is_left_out_of_collections_for_the_block_only() -> None:
    import gc

    from evolcoder.system import long_lived_data

    loaded = [[i] for i in range(1000)]
    assert gc.get_freeze_count() == 0
    with long_lived_data():
        assert gc.get_freeze_count() >= len(loaded)
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # what the block creates is still collected
    assert gc.get_freeze_count() == 0

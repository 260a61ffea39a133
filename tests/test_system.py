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

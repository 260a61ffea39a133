"""The fixed cost of one sandboxed run: wall and CPU time of the whole process tree per run.

Runs ``N`` requests of ``x = 1`` through one fork server (``execution.worker.Worker``) with all
protections, without the network namespace, and without any namespace, and beside them the peer: a
bare ``fork`` and ``_exit`` of an interpreter that imported the same modules; and the isolation's
set-up alone, as the fork server makes it, in forks that then exit (no driver, no request). Each variant runs in a
child process placed in a cgroup of its own, so the CPU time counts every process of the tree:
the fork server's children are reaped by the kernel, which ``getrusage`` does not see. Needs root
and a cgroup v1 ``cpuacct`` or cgroup v2 hierarchy; elsewhere only wall times are printed.

    .venv/bin/python benchmarks/sandbox_cost.py --runs 500
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SETUP_ALONE = "isolation set-up alone"
VARIANTS = {
    "bare fork + exit (peer)": None,
    SETUP_ALONE: None,
    "sandbox, all protections": {},
    "sandbox, no network namespace": {"network": True},
    "sandbox, no namespaces": {"namespaces": False},
}


@dataclass
class Cost:
    wall_ms: float
    user_ms: float | None = None
    sys_ms: float | None = None

    @property
    def cpu_ms(self) -> float | None:
        return None if self.user_ms is None or self.sys_ms is None else self.user_ms + self.sys_ms


class CpuGroup:
    """A fresh cgroup whose user and system CPU time include every process started in it."""

    def __init__(self) -> None:
        name = f"evolcoder-bench-{uuid.uuid4().hex[:8]}"
        v1 = Path("/sys/fs/cgroup/cpuacct")
        self.v2 = not v1.is_dir()
        self.path = (Path("/sys/fs/cgroup") if self.v2 else v1) / name
        self.path.mkdir()

    def enter(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> tuple[float, float]:
        if self.v2:
            stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
            return int(stat["user_usec"]) / 1e6, int(stat["system_usec"]) / 1e6
        user = int((self.path / "cpuacct.usage_user").read_text()) / 1e9
        system = int((self.path / "cpuacct.usage_sys").read_text()) / 1e9
        return user, system

    def remove(self) -> None:
        self.path.rmdir()


def child(variant: str, runs: int) -> None:
    """Time ``runs`` runs of one variant in this process; print the wall seconds."""
    from evolcoder.execution.isolation import Limits, Policy
    from evolcoder.execution.worker import Worker

    options = VARIANTS[variant]
    if variant == SETUP_ALONE:
        print(_setup_alone(runs))
        return
    if options is None:
        started = time.perf_counter()
        for _ in range(runs):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        print(time.perf_counter() - started)
        return
    worker = Worker(policy=Policy(**options))
    request = {"kind": "program", "code": "x = 1"}
    try:
        first = worker.run(request, Limits())  # starts the fork server: not timed
        if first.exit_code != 0:
            raise SystemExit(f"{variant}: the sandbox failed: {first.reason} {first.output_head}")
        started = time.perf_counter()
        for _ in range(runs):
            worker.run(request, Limits())
        print(time.perf_counter() - started)
    finally:
        worker.close()


def _setup_alone(runs: int) -> float:
    """Wall seconds of ``runs`` forks that set up the sandbox's isolation as the fork server does
    (pid 1 of a new pid namespace, the prepared mount, ipc, uts and network namespaces, private
    folders, limits, a uid of its own, the seccomp filter and the audit hook) and exit: what the
    isolation costs a process, without the driver, the request or the harness."""
    from evolcoder.execution import isolation

    policy, limits = isolation.Policy(), isolation.Limits()
    namespaces = isolation.PreparedNamespaces.open(policy)
    if namespaces is None or os.geteuid() != 0:
        raise SystemExit(f"{SETUP_ALONE}: needs root and namespaces")
    isolation.preload_seccomp()
    workdir = "/tmp/work"
    isolation.clean_environment(workdir, policy)  # once, in the fork server, as it does
    uid = isolation.sandbox_uid(policy, 0)
    started = time.perf_counter()
    for _ in range(runs):
        pid = namespaces.fork()
        if pid == 0:
            code = 1
            try:
                protections = isolation.Protections()
                namespaces.enter(policy, limits, protections)
                os.mkdir(workdir, 0o700)
                os.chown(workdir, uid, uid)
                os.chdir(workdir)
                isolation.set_limits(limits, dedicated_uid=True, protections=protections)
                isolation.drop_privileges(uid, protections)
                isolation.close_fds_except(set())
                isolation.install_seccomp(protections)
                isolation.install_audit_hook(protections)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{SETUP_ALONE}: the set-up failed")
    return time.perf_counter() - started


def run_in_group(cmd: list[str], env: dict) -> tuple[str, float | None, float | None]:
    """Run ``cmd`` in a cgroup of its own: its output, and the user and system CPU seconds of every
    process it started (None where no cgroup can be made)."""
    group = None
    try:
        group = CpuGroup()
    except OSError:
        pass
    try:
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, preexec_fn=group and group.enter)
        if group is None:
            return out.stdout, None, None
        user, system = group.seconds()
        return out.stdout, user, system
    finally:
        if group is not None:
            group.remove()


def measure(variant: str, runs: int) -> Cost:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src)
    cmd = [sys.executable, __file__, "--child", variant, "--runs", str(runs)]
    # The startup (imports, the fork server) is counted too; measured apart and taken off in main.
    stdout, user, system = run_in_group(cmd, env)
    wall = float(stdout.split()[-1])
    if user is None or system is None:
        return Cost(wall * 1000 / runs)
    return Cost(wall * 1000 / runs, user * 1000, system * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs)
        return
    print(f"cores: {os.cpu_count()}  runs per variant: {args.runs}  python: {sys.version.split()[0]}")
    # CPU per run: (CPU of N runs + startup) - (CPU of 1 run + startup), over N - 1.
    rows = []
    for variant in VARIANTS:
        many, one = measure(variant, args.runs), measure(variant, 1)
        cpu = None
        if many.cpu_ms is not None and one.cpu_ms is not None:
            runs = args.runs - 1
            cpu = ((many.user_ms - one.user_ms) / runs, (many.sys_ms - one.sys_ms) / runs)
        rows.append((variant, many.wall_ms, cpu))
    peer = rows[0]
    header = f"{'variant':32} {'wall ms/run':>11} {'CPU ms/run':>10} {'user':>6} {'sys':>6} {'CPU / peer':>10}"
    print(header)
    print("-" * len(header))
    for variant, wall, cpu in rows:
        if cpu is None:
            print(f"{variant:32} {wall:11.2f} {'-':>10} {'-':>6} {'-':>6} {'-':>10}")
            continue
        total = cpu[0] + cpu[1]
        ratio = total / (peer[2][0] + peer[2][1]) if peer[2] else float("nan")
        print(f"{variant:32} {wall:11.2f} {total:10.2f} {cpu[0]:6.2f} {cpu[1]:6.2f} {ratio:9.1f}×")


if __name__ == "__main__":
    main()

"""Operating-system isolation applied inside a freshly forked sandbox process.

Everything here runs in the child after ``fork`` and before any untrusted code: Linux namespaces
(pid, network, mount, ipc, uts), a read-only view of the file system with private ``/tmp``,
resource limits, dropped privileges, a seccomp filter and a clean environment. Each step is best effort where the
kernel refuses it (no namespaces in some containers, not root); what actually took effect is
reported back so results can say which protections were active.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import signal
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # each sandbox gets fresh, empty ones

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    wall_seconds: float = 30.0
    cpu_seconds: float = 20.0
    memory_bytes: int = 4 << 30  # address space, as evalplus (RLIMIT_AS)
    max_processes: int = 64  # per sandbox user id (RLIMIT_NPROC)
    max_output_bytes: int = 4 << 20  # stdout + stderr; more kills the run
    max_file_bytes: int = 64 << 20  # largest file it may write (RLIMIT_FSIZE)
    max_open_files: int = 256
    tmp_bytes: int = 256 << 20  # size of the private /tmp


@dataclass(frozen=True)
class Policy:
    """What a sandboxed program may see and do beyond its limits."""

    namespaces: bool = True  # pid, net, mount, ipc, uts namespaces when the kernel allows
    network: bool = False  # keep the host network (only when namespaces are off or this is True)
    read_only_root: bool = True
    drop_privileges: bool = True  # when root: run as an unprivileged uid of its own
    sandbox_uid_base: int = 61000
    block_python_events: bool = True  # audit hook: sockets, subprocesses, exec, fork
    seccomp: bool = True  # deny the system calls in DENIED_SYSCALLS (libseccomp), where it is installed
    hidden_paths: tuple[str, ...] = field(default_factory=lambda: (os.path.expanduser("~"),))
    # ^ covered by an empty tmpfs: home by default; callers add data and cache folders
    readable_paths: tuple[str, ...] = ()  # folders bound back read-only below a hidden one (data a program reads)
    extra_env: tuple[tuple[str, str], ...] = ()


@dataclass
class Protections:
    """What took effect for one run (reported with every result)."""

    pid_namespace: bool = False
    network_namespace: bool = False
    mount_namespace: bool = False
    read_only_root: bool = False
    private_tmp: bool = False
    hidden_paths: list[str] = field(default_factory=list)
    uid: int = -1
    no_new_privs: bool = False
    rlimits: bool = False
    audit_hook: bool = False
    seccomp: bool = False
    tests_apart: bool = False  # the tests ran in a process of their own (execution.apart)
    test_uid: int = -1

    def as_dict(self) -> dict:
        # Not dataclasses.asdict: its deep copy touches ~100 more pages of the fork server's memory,
        # each a copy-on-write fault in every sandbox.
        return {**vars(self), "hidden_paths": list(self.hidden_paths)}


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _namespace_flags(policy: Policy) -> int:
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
    return flags if policy.network else flags | CLONE_NEWNET


def unshare_namespaces(policy: Policy, protections: Protections) -> bool:
    """Enter new namespaces (called by the supervisor; its next child becomes pid 1)."""
    if not policy.namespaces:
        return False
    flags = _namespace_flags(policy) | CLONE_NEWPID
    uid, gid = os.geteuid(), os.getegid()
    if uid != 0:
        flags |= CLONE_NEWUSER
    if _libc.unshare(flags) != 0:
        return False
    if uid != 0:
        # Map ourselves to root inside the user namespace so mounts are allowed.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _note_namespaces(policy, protections)
    return True


def _note_namespaces(policy: Policy, protections: Protections) -> None:
    protections.pid_namespace = True
    protections.mount_namespace = True
    protections.network_namespace = not policy.network


class PreparedNamespaces:
    """The namespaces of one fork server's sandboxes, as far as possible made once (root only).

    - pid: a fresh one per run, without a process in between. The fork server can
      ``unshare(CLONE_NEWPID)`` (its own pid stays; only its next child is pid 1 of a new namespace),
      fork, and ``setns`` back to its own namespace for the children after. That saves the
      supervisor process of every run (a fork, an exit and the pages they copy).
    - mount: a template made once (``prepare_root``: read-only mounts, hidden folders covered, the
      interpreter's folders bound back); each run enters it and unshares a copy of its own, where
      it mounts only its fresh ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/proc``
      (``private_folders``).
    - network: one per fork server, made once and entered by each of its runs (one at a time). It
      has only a loopback interface, down, which the unprivileged program cannot bring up or change
      (no capability, and seccomp denies it ``unshare`` and ``setns``); whatever socket a run opens
      there is closed when the kernel kills its processes at the end of the run.
    - ipc and uts: fresh per run (System V IPC objects would outlive a run).

    ``open`` returns None where this cannot work (not root, namespaces off or refused); the fork
    server then forks a supervisor per run, which enters fresh namespaces of every kind, a user
    namespace among them when not root.
    """

    def __init__(self, own_pid: int, template: _Template) -> None:
        self._own_pid = own_pid  # fds on the fork server's own pid namespace and on the templates
        self._template = template

    @classmethod
    def open(cls, policy: Policy) -> PreparedNamespaces | None:
        if not policy.namespaces or os.geteuid() != 0:
            return None
        try:
            template = _Template.make(policy)
        except OSError:
            return None
        try:
            own_pid = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            template.close()
            return None
        prepared = cls(own_pid, template)
        try:
            if prepared._child_can_enter(policy):
                return prepared
        except OSError:
            pass
        prepared.close()
        return None

    def fork(self) -> int:
        """``os.fork``, the child being pid 1 of a new pid namespace."""
        _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        try:
            pid = os.fork()
        except BaseException:
            self._restore()
            raise
        if pid != 0:
            try:
                self._restore()
            except OSError as exc:  # the fork server cannot go on: its next children would share a namespace
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise RuntimeError(f"cannot return to the fork server's pid namespace: {exc}") from exc
        return pid

    def refresh(self, policy: Policy) -> None:
        """Remake the templates when a hidden or readable folder has appeared or gone since they were
        made: a cache folder that a run creates (expected outputs) is hidden from the runs after it."""
        if _folders_present(policy) != self._template.made_for:
            old, self._template = self._template, _Template.make(policy)
            old.close()

    def _restore(self) -> None:
        """The fork server's next children are in its own pid namespace again."""
        _check(_libc.setns(self._own_pid, CLONE_NEWPID), "setns(CLONE_NEWPID)")

    def enter(self, policy: Policy, limits: Limits, protections: Protections) -> None:
        """In the child of ``fork``: the other namespaces and this run's private folders."""
        template = self._template
        _check(_libc.setns(template.mount, CLONE_NEWNS), "setns(CLONE_NEWNS)")
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        if template.network is not None:
            _check(_libc.setns(template.network, CLONE_NEWNET), "setns(CLONE_NEWNET)")
        self.close()  # the program must hold no handle on the fork server's namespaces
        _note_namespaces(policy, protections)
        protections.read_only_root = policy.read_only_root
        protections.hidden_paths = list(template.hidden_paths)
        private_folders(limits, protections, template.below_private)

    def close(self) -> None:
        os.close(self._own_pid)
        self._template.close()

    def _child_can_enter(self, policy: Policy) -> bool:
        """A trial run: a child that is pid 1 and enters the other namespaces."""
        pid = self.fork()
        if pid == 0:
            code = 1
            try:
                self.enter(policy, Limits(tmp_bytes=1 << 20), Protections())
                code = 0 if os.getpid() == 1 else 1
            finally:
                os._exit(code)
        _, wait_status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(wait_status) == 0


@dataclass
class _Template:
    """fds on a mount namespace prepared by ``prepare_root`` and on a fresh network namespace."""

    mount: int
    network: int | None  # None: the policy allows the host network
    hidden_paths: list[str]
    below_private: list[str]  # the interpreter's folders below /tmp & co., bound back per run
    made_for: tuple[bool, ...]  # which hidden and readable folders were there (_folders_present)

    def close(self) -> None:
        for fd in (self.mount, self.network):
            if fd is not None:
                os.close(fd)

    @classmethod
    def make(cls, policy: Policy) -> _Template:
        """A short-lived child makes the namespaces; they live on through the fds opened on them."""
        made_for = _folders_present(policy)
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(ready_r)
                os.close(done_w)
                _check(_libc.unshare(CLONE_NEWNS | (0 if policy.network else CLONE_NEWNET)), "unshare")
                protections = Protections()
                prepare_root(policy, protections)
                os.write(ready_w, json.dumps(protections.hidden_paths).encode())
                os.close(ready_w)
                os.read(done_r, 1)  # stay until the fork server has opened the namespaces
                code = 0
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(done_r)
        try:
            reply = b""
            while chunk := os.read(ready_r, 1 << 16):
                reply += chunk
            if not reply:
                raise OSError("the namespace template could not be made")
            mount = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            network = None if policy.network else os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(ready_r)
            os.close(done_w)
            os.waitpid(pid, 0)
        return cls(mount, network, json.loads(reply), _kept_below_private(policy), made_for)


def _folders_present(policy: Policy) -> tuple[bool, ...]:
    return tuple(os.path.isdir(path) for path in (*policy.hidden_paths, *policy.readable_paths))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    enc = [None if x is None else x.encode() for x in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def needed_paths() -> list[str]:
    """What the sandboxed interpreter must still read: its installation and import path."""
    import sys

    src_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, src_root}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(os.path.realpath(p) for p in paths)


def _masked_ancestor(path: str, masked: list[str]) -> str | None:
    """The folder to cover with a tmpfs so that ``path`` is reachable only by re-exposure."""
    for folder in masked:
        if path == folder or path.startswith(folder.rstrip("/") + "/"):
            return folder
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        if not os.stat(ancestor).st_mode & 0o001:  # others may not traverse it
            return ancestor
    return None


def setup_filesystem(policy: Policy, limits: Limits, protections: Protections) -> None:
    """In the new mount namespace: read-only everything, fresh /tmp, /dev/shm and /proc."""
    prepare_root(policy, protections)
    private_folders(limits, protections, _kept_below_private(policy))


def _private_dirs() -> list[str]:
    return [os.path.realpath(p) for p in PRIVATE_DIRS if os.path.isdir(p)]


def _kept_paths(policy: Policy) -> list[str]:
    """The interpreter's folders and the folders a program may read: visible in every sandbox."""
    return needed_paths() + [os.path.realpath(p) for p in policy.readable_paths if os.path.isdir(p)]


def _kept_below_private(policy: Policy) -> list[str]:
    """The kept folders below /tmp & co.: bound back over each run's fresh, empty ones."""
    private = _private_dirs()
    return [path for path in _kept_paths(policy) if _below_any(path, private)]


def _below_any(path: str, folders: list[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def prepare_root(policy: Policy, protections: Protections) -> None:
    """What every sandbox sees alike: every mount read-only, hidden folders (home, caches, data) and
    folders the sandbox user could not traverse covered by an empty tmpfs, and the interpreter's own
    folders below them bound back, read-only. Nothing below /tmp & co.: ``private_folders`` covers them.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    private = _private_dirs()
    masked = [os.path.realpath(p) for p in policy.hidden_paths if os.path.isdir(p)]
    reexpose: dict[str, int] = {}
    for path in _kept_paths(policy):
        if _below_any(path, private):
            continue
        ancestor = _masked_ancestor(path, masked)
        if ancestor is not None:
            if ancestor not in masked:
                masked.append(ancestor)
            reexpose[path] = os.open(path, os.O_PATH | os.O_DIRECTORY)
    if policy.read_only_root:
        for mount_point in _mount_points():
            try:
                _mount(None, mount_point, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
            except OSError:
                pass
        protections.read_only_root = True
    for folder in sorted(masked, key=len):
        if any(folder.startswith(m.rstrip("/") + "/") for m in masked if m != folder):
            continue  # already under a masked folder
        if _below_any(folder, private) or not os.path.isdir(folder):
            continue  # under /tmp & co., which each run gets fresh and empty
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        protections.hidden_paths.append(folder)
    _bind_back(reexpose)
    for folder in protections.hidden_paths:
        try:
            _mount(None, folder, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
        except OSError:
            pass


def private_folders(limits: Limits, protections: Protections, below_private: list[str]) -> None:
    """This run's own, empty /tmp, /var/tmp and /dev/shm (with ``below_private``, folders the
    interpreter needs that lie below them, bound back read-only), and its pid namespace's /proc."""
    reexpose = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in below_private}
    for path in PRIVATE_DIRS:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits.tmp_bytes},mode=1777")
    protections.private_tmp = True
    _bind_back(reexpose)
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    except OSError:
        pass


def _bind_back(reexpose: dict[str, int]) -> None:
    """Bind each folder (opened before it was covered) back where it was, read-only."""
    for path, fd in sorted(reexpose.items()):
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
        os.close(fd)


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            points.append(line.split()[4].replace("\\040", " "))
    return points


def whole_cpu_seconds(seconds: float) -> int:
    """``RLIMIT_CPU`` counts whole seconds: a limit of ``seconds``, rounded up, at least 1."""
    return max(1, int(seconds + 0.999))


def set_cpu_limit(seconds: float) -> None:
    # soft == hard: the sandbox is pid 1 of its namespace, which ignores SIGXCPU; SIGKILL it is.
    cpu = whole_cpu_seconds(seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def set_limits(limits: Limits, dedicated_uid: bool, protections: Protections) -> None:
    set_cpu_limit(limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if dedicated_uid:
        # RLIMIT_NPROC counts every process of the real uid, so it only means something for a
        # uid that belongs to this sandbox alone (root ignores it, hence the privilege drop).
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    protections.rlimits = True


def drop_privileges(uid: int | None, protections: Protections) -> bool:
    """Become ``uid`` (a uid of this sandbox slot alone); then forbid regaining privileges."""
    dropped = False
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        dropped = True
    protections.uid = os.geteuid()
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        protections.no_new_privs = True
    # Die with the supervisor (set after setuid, which clears it).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return dropped


# System calls a judged program never needs, denied with EPERM by a seccomp filter (everything
# else is allowed: NumPy, TensorFlow and friends need a wide and changing set). They reach into
# other processes (ptrace, process_vm_*, pidfd_getfd, kcmp), widen the kernel surface that
# sandbox escapes use (bpf, perf_event_open, userfaultfd, io_uring, keyrings), or change the
# machine or the sandbox itself (mounts, namespaces, modules, clocks, swap, reboot). System
# calls of another ABI (32-bit ``int 0x80``, x32) kill the process: libseccomp's default.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "add_key", "request_key", "keyctl",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "name_to_handle_at", "open_by_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
)  # fmt: skip
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO_EPERM = 0x00050000 | 1


@functools.cache
def _libseccomp() -> ctypes.CDLL | None:
    """The system's libseccomp (Debian: libseccomp2), or None where it is not installed.

    Cached, and loaded by the fork server before it forks (``find_library`` alone runs ldconfig,
    milliseconds that every sandbox would pay again).
    """
    import ctypes.util

    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


@functools.cache
def _filter_program() -> bytes | None:
    """The compiled BPF program of the filter (libseccomp builds it once, in the fork server)."""
    lib = _libseccomp()
    if lib is None:
        return None
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return None
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        for name in DENIED_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a system call of this architecture
            if lib.seccomp_rule_add(ctx, _SCMP_ACT_ERRNO_EPERM, number, 0) != 0:
                return None
        if lib.seccomp_export_bpf(ctx, fd) != 0:
            return None
        os.lseek(fd, 0, os.SEEK_SET)
        program = b""
        while chunk := os.read(fd, 1 << 16):
            program += chunk
    finally:
        lib.seccomp_release(ctx)
        os.close(fd)
    return program if program and len(program) % 8 == 0 else None


def preload_seccomp() -> None:
    """Compile the filter now, in the fork server, so each sandbox only loads it."""
    _filter_program()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def install_seccomp(protections: Protections) -> bool:
    """Load the filter that denies DENIED_SYSCALLS; irreversible for this process and its children.

    Needs no_new_privs (drop_privileges sets it). The program is libseccomp's own output, loaded
    with prctl: the same filter ``seccomp_load`` would install, without compiling it per sandbox.
    """
    program = _filter_program()
    if program is None:
        return False
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        return False
    protections.seccomp = True
    return True


def forbid_tracing() -> None:
    """No core dumps and no ``/proc/<pid>/mem``, ``fd`` or ``environ`` access for other processes.

    A process that is not dumpable can be traced or inspected only with CAP_SYS_PTRACE; the
    candidate has no capabilities, and seccomp denies it ptrace and process_vm_* anyway.
    """
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def close_fds_except(keep: set[int]) -> None:
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


# The test process of a request judged apart runs as the slot's uid plus this: a uid of its own,
# so the candidate (the slot's uid) can neither signal it nor read its memory.
TEST_UID_OFFSET = 1000


def sandbox_uid(policy: Policy, slot: int) -> int | None:
    if policy.drop_privileges and os.geteuid() == 0:
        return policy.sandbox_uid_base + slot
    return None


_environment_for: tuple[str, tuple] | None = None  # (workdir, extra_env) os.environ was last cleaned for


def clean_environment(workdir: str, policy: Policy) -> None:
    """The sandbox's environment: fixed variables only. Nothing to do where this process, or the fork
    server before the fork, already cleaned it for the same folder (clearing and refilling os.environ
    costs a sandbox ~230 copy-on-write faults, 0.5 ms)."""
    global _environment_for
    if _environment_for == (workdir, policy.extra_env):
        return
    os.environ.clear()
    os.environ.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
        }
    )
    os.environ.update(dict(policy.extra_env))
    _environment_for = (workdir, policy.extra_env)


BLOCKED_EVENTS = {
    "socket.__new__": "network access is disabled in the sandbox",
    "socket.connect": "network access is disabled in the sandbox",
    "socket.bind": "network access is disabled in the sandbox",
    "socket.getaddrinfo": "network access is disabled in the sandbox",
    "socket.gethostbyname": "network access is disabled in the sandbox",
    "subprocess.Popen": "starting programs is disabled in the sandbox",
    "os.system": "starting programs is disabled in the sandbox",
    "os.exec": "starting programs is disabled in the sandbox",
    "os.posix_spawn": "starting programs is disabled in the sandbox",
    "os.spawn": "starting programs is disabled in the sandbox",
    "os.fork": "fork is disabled in the sandbox",
    "os.forkpty": "fork is disabled in the sandbox",
    "os.kill": "signals to other processes are disabled in the sandbox",
    "os.killpg": "signals to other processes are disabled in the sandbox",
    "pty.spawn": "starting programs is disabled in the sandbox",
}


def install_audit_hook(protections: Protections) -> None:
    """A Python-level second line: clear errors for what the OS layer also stops.

    Audit hooks cannot be removed from Python code; native code (ctypes) can still bypass them,
    which is why the namespaces and limits above are the real boundary.
    """
    import sys

    blocked = dict(BLOCKED_EVENTS)

    def hook(event: str, args: tuple) -> None:
        reason = blocked.get(event)
        if reason is not None:
            if event in ("os.kill", "os.killpg") and args and args[0] in (0, os.getpid()):
                return
            raise PermissionError(reason)

    sys.addaudithook(hook)
    protections.audit_hook = True

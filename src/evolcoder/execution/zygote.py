"""The fork server: a clean, warm Python process that forks one sandbox per request.

Started by the harness as ``python -I -m evolcoder.execution.zygote FD``. It pre-imports what every run
needs once, then for each request forks:

    zygote ── supervisor (enters new namespaces, enforces wall time and output size)
                  └── sandbox (pid 1 of its pid namespace: limits, no privileges, runs the driver)

When the sandbox process ends, the kernel kills everything left in its pid namespace, so nothing
it started survives it. The zygote stays small (forks are cheap) and never holds expected outputs: a forked sandbox
inherits its memory, and must not find the answers there. Test inputs come with each request.

Pipes per request, created by the harness and passed over the control socket:
``result`` (sandbox → harness, JSON lines), ``status`` (supervisor → harness, one final line the
sandbox cannot forge), ``cancel`` (harness → supervisor; EOF kills the run).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from evolcoder.execution import driver, isolation

HEADER = struct.Struct("!II")  # JSON message length, payload length
N_FDS = 3


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def recv_message(sock: socket.socket) -> tuple[dict | None, list[int], bytes]:
    """One message: a JSON object, up to three passed file descriptors and a raw payload."""
    head, fds, _flags, _addr = socket.recv_fds(sock, HEADER.size, N_FDS)
    if not head:
        return None, fds, b""
    rest = _recv_exact(sock, HEADER.size - len(head)) if len(head) < HEADER.size else b""
    if rest is None:
        return None, fds, b""
    size, payload_size = HEADER.unpack(head + rest)
    body = _recv_exact(sock, size)
    payload = _recv_exact(sock, payload_size)
    if body is None or payload is None:
        return None, fds, b""
    return json.loads(body), fds, payload


def send_message(sock: socket.socket, message: dict, fds: list[int] = (), payload: bytes = b"") -> None:
    body = json.dumps(message).encode()
    socket.send_fds(sock, [HEADER.pack(len(body), len(payload))], list(fds))
    sock.sendall(body)
    if payload:
        sock.sendall(payload)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    hello, _, _ = recv_message(sock)
    if hello is None:
        return
    for module in hello.get("preload", []):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a program that imports it meets the error itself
            pass
    policy = isolation.Policy(**_tuples(hello["policy"]))
    slot = int(hello["slot"])
    # Children are reaped by the kernel; the supervisor resets this after fork.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        request, fds, payload = recv_message(sock)
        if request is None:
            return
        limits = isolation.Limits(**request.pop("limits"))
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                _supervise(request, payload, limits, policy, slot, *fds)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)


def _tuples(d: dict) -> dict:
    return {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v for k, v in d.items()
    }


def _supervise(request, payload, limits, policy, slot, result_fd, status_fd, cancel_fd) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    started = time.monotonic()
    os.setsid()
    uid = isolation.sandbox_uid(policy, slot)  # decided before a user namespace makes us "root"
    protections = isolation.Protections()
    in_namespaces = isolation.unshare_namespaces(policy, protections)
    out_r, out_w = os.pipe()
    workdir = None
    if not in_namespaces:
        import tempfile

        workdir = tempfile.mkdtemp(prefix="evolcoder-sandbox-")
        if uid is not None:
            os.chown(workdir, uid, uid)
    child = os.fork()
    if child == 0:
        code = 71
        try:
            os.close(status_fd)
            os.close(cancel_fd)
            os.close(out_r)
            _sandbox(request, payload, limits, policy, uid, result_fd, out_w, in_namespaces, workdir, protections)
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()  # reaches the harness through the output pipe
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except BaseException:
                    pass
            os._exit(code)
    os.close(out_w)
    os.close(result_fd)
    status = _watch(child, limits, started, out_r, cancel_fd)
    if workdir is not None:
        _kill_group(child)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    status["wall"] = time.monotonic() - started
    data = (json.dumps(status) + "\n").encode()
    os.write(status_fd, data)
    os._exit(0)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _watch(child: int, limits, started: float, out_r: int, cancel_fd: int) -> dict:
    """Wait for the sandbox; kill it on wall time, output flood or cancellation."""
    pidfd = os.pidfd_open(child)
    head = bytearray()
    total = 0
    reason = None
    watched = [pidfd, out_r, cancel_fd]
    while True:
        remaining = limits.wall_seconds - (time.monotonic() - started)
        if remaining <= 0:
            reason = "wall time limit exceeded"
            break
        ready, _, _ = select.select(watched, [], [], remaining)
        if out_r in ready:
            chunk = os.read(out_r, 1 << 16)
            if not chunk:
                watched.remove(out_r)
            total += len(chunk)
            if len(head) < 4096:
                head += chunk[: 4096 - len(head)]
            if total > limits.max_output_bytes:
                reason = "output limit exceeded"
                break
        if cancel_fd in ready:
            if not os.read(cancel_fd, 64):
                reason = "cancelled"
                break
        if pidfd in ready:
            break
    if reason is not None:
        os.kill(child, signal.SIGKILL)
        _kill_group(child)
    _, wait_status, usage = os.wait4(child, 0)
    os.close(pidfd)
    exit_code = os.waitstatus_to_exitcode(wait_status)
    cpu = usage.ru_utime + usage.ru_stime
    if reason is None and exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = "cpu time limit exceeded" if cpu >= limits.cpu_seconds - 0.05 else "killed"
    return {
        "exit": exit_code,
        "reason": reason,
        "cpu": cpu,
        "max_rss_kb": usage.ru_maxrss,
        "output_bytes": total,
        "output_head": head.decode("utf-8", "replace"),
    }


def _sandbox(request, payload, limits, policy, uid, result_fd, out_w, in_namespaces, workdir, protections) -> None:
    """Runs as the sandboxed process: isolate, then hand over to the driver."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    if not in_namespaces:
        os.setpgid(0, 0)
    if in_namespaces:
        isolation.setup_filesystem(policy, limits, protections)
        workdir = "/tmp/work"
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
    os.chdir(workdir)
    isolation.set_limits(limits, dedicated_uid=uid is not None, protections=protections)
    isolation.drop_privileges(uid, protections)
    isolation.clean_environment(workdir, policy)
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 1 << 16)
    if policy.seccomp:
        isolation.install_seccomp(protections)
    if policy.block_python_events:
        isolation.install_audit_hook(protections)
    # Sent before any untrusted code runs, so the harness can trust this first record.
    driver.send_record(result_fd, {"protections": protections.as_dict()}, request.get("token", ""))
    driver.run_request(request, payload, result_fd)


if __name__ == "__main__":
    main()

"""The ``process`` runtime: each container a local child in its own process group.

A container is ``Popen(..., start_new_session=True)``, so its pid is its process group
id and one ``killpg`` reaches every process it forked. Descendants that moved to a
group of their own are found through the process table and killed too. Every process
carries ``MOONBASE_RUNTIME_OWNER``/``MOONBASE_POD_ID``/``MOONBASE_CONTAINER`` in its
environment, which is how a restarted director finds what it left running.

When the server runs it as a child subreaper (``reap_orphans=True``), processes
orphaned by a killed group are re-parented to the API instead of to PID 1, and reaped
here: no zombie is left behind even where PID 1 does not reap.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import psutil

from target_api.director.runtimes.base import ContainerHandle, ContainerSpec

OWNER_ENV = "MOONBASE_RUNTIME_OWNER"
POD_ENV = "MOONBASE_POD_ID"
CONTAINER_ENV = "MOONBASE_CONTAINER"
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
REAP_INTERVAL_S = 0.5
LEADER_EXIT_TIMEOUT_S = 5.0


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def exit_code_of(returncode: int) -> int:
    """Popen's -N for "killed by signal N" as a shell (and docker) reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class ProcessRuntime:
    """Runs containers as local process groups. Thread-safe."""

    name = "process"

    def __init__(self, owner: str, *, reap_orphans: bool = False) -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self._children: dict[int, tuple[subprocess.Popen[bytes], IO[bytes]]] = {}
        self._reaps = reap_orphans and _become_subreaper()
        self._last_reap = 0.0

    # -- Runtime protocol ----------------------------------------------------------

    def start(
        self,
        pod_id: str,
        spec: ContainerSpec,
        *,
        env: dict[str, str],
        workdir: Path,
        log_path: Path,
    ) -> ContainerHandle:
        workdir.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**dict(spec.env), **env}
        full_env.update({OWNER_ENV: self.owner, POD_ENV: pod_id, CONTAINER_ENV: spec.name})
        log = open(log_path, "ab")  # noqa: SIM115 - closed in remove()
        # Under the lock: the reaper must never see this child before it is registered,
        # or it would take the exit status that Popen needs.
        self._lock.acquire()
        try:
            child = subprocess.Popen(
                list(spec.command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=workdir,
                start_new_session=True,  # own session and process group: pgid == pid
                close_fds=True,
            )
            self._children[child.pid] = (child, log)
        except BaseException:
            log.close()
            raise
        finally:
            self._lock.release()
        return ContainerHandle(
            runtime=self.name,
            pod_id=pod_id,
            container_name=spec.name,
            ref=str(child.pid),
            labels=((OWNER_ENV, self.owner),),
        )

    def poll(self, handle: ContainerHandle) -> int | None:
        self._maybe_reap()
        pid = int(handle.ref)
        with self._lock:
            entry = self._children.get(pid)
        if entry is not None:
            code = entry[0].poll()
            return None if code is None else exit_code_of(code)
        # Adopted from an earlier director: no exit status to be had, only liveness.
        return None if self._is_ours_and_alive(pid) else 255

    def kill(self, handle: ContainerHandle, sig: int = signal.SIGKILL) -> None:
        pid = int(handle.ref)
        with self._lock:
            known = pid in self._children
        if not known and not self._is_ours_and_alive(pid):
            return  # never signal a pid that may have been reused by someone else
        strays = self._descendants(pid)
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for proc in strays:  # those that called setsid/setpgid escaped killpg
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass

    def remove(self, handle: ContainerHandle) -> None:
        pid = int(handle.ref)
        self.kill(handle, signal.SIGKILL)
        with self._lock:
            entry = self._children.get(pid)
        if entry is not None:
            child, log = entry
            try:
                child.wait(timeout=LEADER_EXIT_TIMEOUT_S)  # still registered: the reaper keeps off
            except subprocess.TimeoutExpired:
                pass  # a process in uninterruptible sleep; the reaper gets it later
            with self._lock:
                self._children.pop(pid, None)
            log.close()
        self._maybe_reap(force=True)

    def list_owned(self) -> list[ContainerHandle]:
        handles = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) != proc.pid:
                    continue  # only group leaders are containers
                env = proc.environ()
                if env.get(OWNER_ENV) != self.owner or proc.status() == psutil.STATUS_ZOMBIE:
                    continue
            except (psutil.Error, ProcessLookupError, PermissionError):
                continue
            handles.append(
                ContainerHandle(
                    runtime=self.name,
                    pod_id=env.get(POD_ENV, ""),
                    container_name=env.get(CONTAINER_ENV, ""),
                    ref=str(proc.pid),
                    labels=((OWNER_ENV, self.owner),),
                )
            )
        return handles

    # -- helpers ---------------------------------------------------------------------

    def close(self) -> None:
        """Kill and release every container this runtime started."""
        with self._lock:
            pids = list(self._children)
        for pid in pids:
            self.remove(ContainerHandle(self.name, "", "", str(pid)))

    def _is_ours_and_alive(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return bool(proc.environ().get(OWNER_ENV) == self.owner)
        except psutil.Error:
            return False

    @staticmethod
    def _descendants(pid: int) -> list[psutil.Process]:
        try:
            children: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
            return children
        except psutil.Error:
            return []

    def _maybe_reap(self, *, force: bool = False) -> None:
        if not self._reaps:
            return
        now = time.monotonic()
        if not force and now - self._last_reap < REAP_INTERVAL_S:
            return
        self._last_reap = now
        with self._lock:  # held so that no child is started and unregistered meanwhile
            try:
                children = psutil.Process().children()
            except psutil.Error:
                return
            for proc in children:
                if proc.pid in self._children:
                    continue  # Popen reaps its own and needs the exit status
                try:
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        os.waitpid(proc.pid, os.WNOHANG)
                except (psutil.Error, ChildProcessError):
                    continue

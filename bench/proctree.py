"""The memory and CPU of a process tree, read from /proc while it runs: what the benchmarks
measure of a `toolkit` command and the worker processes it starts."""

from __future__ import annotations

import os
import threading


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (threads' ``children`` files, else a /proc scan)."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except FileNotFoundError:
            continue
        except OSError:
            stack.extend(_scan_children(p))
    return found


def _scan_children(parent: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == parent:
                        out.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _status_kib(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    got = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key = line.split(":", 1)[0]
            if key in keys:
                got[key] = int(line.split()[1])
    return got


def _cpu_s(pid: int) -> float:
    """The process's own CPU seconds so far (not its children's)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """Samples a process tree every ``interval`` seconds until told to stop: the highest sum of
    VmRSS over the tree (and of Pss every ``pss_every`` samples; 0: never), each process's
    VmHWM (its own peak) and its own CPU seconds, and the most processes alive at once."""

    def __init__(self, pid: int, interval: float = 0.05, pss_every: int = 20) -> None:
        super().__init__(daemon=True)
        # Pss walks the page tables under the process's mmap lock, which stalls a process
        # that maps and unmaps large arrays: read once a second, VmRSS and VmHWM every 50 ms.
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.stopping = threading.Event()
        self.peak_rss_sum = self.peak_pss_sum = 0  # KiB
        self.hwm: dict[int, int] = {}  # pid -> its VmHWM, last read
        self.cpu: dict[int, float] = {}  # pid -> its own CPU seconds (utime + stime), last read
        self.max_processes = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            rss = pss = 0
            alive = 0
            for pid in tree(self.pid):
                try:
                    status = _status_kib(pid, ("VmRSS", "VmHWM"))
                    if "VmRSS" not in status:  # a zombie
                        continue
                    rss += status["VmRSS"]
                    self.hwm[pid] = max(self.hwm.get(pid, 0), status["VmHWM"])
                    self.cpu[pid] = _cpu_s(pid)
                    if self.pss_every and self.samples % self.pss_every == 0:
                        pss += _pss_kib(pid)
                    alive += 1
                except (OSError, ValueError):
                    continue
            self.peak_rss_sum = max(self.peak_rss_sum, rss)
            self.peak_pss_sum = max(self.peak_pss_sum, pss)
            self.max_processes = max(self.max_processes, alive)
            self.samples += 1
            self.stopping.wait(self.interval)

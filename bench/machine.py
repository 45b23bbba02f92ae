"""What a benchmark's figures were measured on, printed beside them."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import redis


def describe(client: redis.Redis, url: str, **versions: str) -> dict[str, str]:
    """Cores, CPU, Python, Redis (and any `versions` given), and the load right now."""
    info = client.info("server")
    return {
        **host(),
        "redis": f"{info.get('redis_version', '?')} via {url.split(':', 1)[0]}",
        **versions,
        "load": load(),
    }


def host() -> dict[str, str]:
    """Cores (usable by this process, of all), the CPU model and Python: no Redis needed."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return {
        "cores": f"{usable} usable of {cores}",
        "cpu": _cpu_model() or platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def load() -> str:
    """The 1-minute load average: other work on the machine makes p99s noisy."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("model name")), "")

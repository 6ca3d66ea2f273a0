"""Run the demo shop on a loopback port: in a thread (tests) or in its own process
(benchmarks, so the shop does not share the driver's interpreter lock)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from types import TracebackType


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"demo shop not listening on {host}:{port}") from None
            time.sleep(0.02)


class DemoServer:
    """`with DemoServer() as shop: shop.url` — the demo shop on 127.0.0.1.

    `process=True` runs it with `python -m botwarden.demo` in a child process (ended on
    exit); otherwise uvicorn runs in a daemon thread of this process.
    """

    def __init__(self, *, process: bool = False, host: str = "127.0.0.1") -> None:
        self.host = host
        self.process = process
        self.port = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._server: object | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> DemoServer:
        if self.process:
            self.port = free_port(self.host)
            self._child = subprocess.Popen(
                [sys.executable, "-m", "botwarden.demo", "--host", self.host,
                 "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
            try:
                wait_listening(self.host, self.port)
            except TimeoutError:
                self.close()
                raise
            return self
        import uvicorn

        from botwarden.demo.app import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_app(), log_level="error", access_log=False,
                                lifespan="off", ws="none", loop="asyncio")  # fmt: skip
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="demo-shop", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("demo shop did not start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait(timeout=10)
            self._child = None
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
            self._thread.join(timeout=10)
            self._sock.close()
            self._server = None

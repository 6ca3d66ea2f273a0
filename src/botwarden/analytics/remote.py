"""The analytics store's read side over a Unix socket.

DuckDB lets one process open a database file. In `botwarden serve` that process is the
edge's analytics writer (a child process, so storing never competes with requests for the
GIL); the API and the dashboard, in the edge's process, read through it: `serve_queries`
runs in the writer process beside the writer, `RemoteSource` is the API's
`AnalyticsSource` on the other end. Each call is one connection: a length-prefixed pickled
`(method, args)` and a pickled `("ok", value)` or `("error", exception)` back. The socket is
created mode 0600 in the data directory: only the user running Botwarden can connect.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import struct
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botwarden.api.analytics import AnalyticsSource, Query, ReportFigures

log = logging.getLogger(__name__)

SOCKET_NAME = "analytics.sock"
_HEADER = struct.Struct("!I")
_MAX_FRAME = 256 * 1024 * 1024
_METHODS = frozenset(
    {"retention", "totals", "histogram", "by_score_source", "timeseries", "top", "samples",
     "report"}
)  # fmt: skip


class AnalyticsUnavailable(RuntimeError):
    """The process holding the analytics store cannot be reached."""


def _send(sock: socket.socket, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> Any:
    (size,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    if size > _MAX_FRAME:
        raise ConnectionError(f"frame of {size} bytes is larger than {_MAX_FRAME}")
    return pickle.loads(_recv_exactly(sock, size))  # our own 0600 socket


# -- the server, beside the writer -----------------------------------------------------------


def _answer(source: AnalyticsSource, conn: socket.socket) -> None:
    with conn:
        try:
            method, args = _recv(conn)
        except (OSError, ConnectionError, pickle.UnpicklingError, ValueError):
            return
        try:
            if method not in _METHODS:
                raise ValueError(f"unknown analytics call {method!r}")
            attr = getattr(source, method)
            value = attr if method == "retention" else attr(*args)
            reply: tuple[str, Any] = ("ok", value)
        except Exception as exc:  # the caller gets the same exception to handle
            reply = ("error", exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            if reply[0] == "error":
                pickle.loads(data)  # an exception that cannot be rebuilt goes as its message
        except Exception:
            data = pickle.dumps(("error", RuntimeError(str(reply[1]))))
        with contextlib.suppress(OSError):
            conn.sendall(_HEADER.pack(len(data)) + data)


def serve_queries(source: AnalyticsSource, path: Path) -> tuple[threading.Thread, socket.socket]:
    """Answer `RemoteSource` calls on the Unix socket `path` from a daemon thread (one
    thread per call). Close the returned socket to stop."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(old)
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: stop
                return
            threading.Thread(
                target=_answer, args=(source, conn), name="botwarden-analytics-query", daemon=True
            ).start()

    thread = threading.Thread(target=accept, name="botwarden-analytics-queries", daemon=True)
    thread.start()
    return thread, server


# -- the client, in the API ------------------------------------------------------------------


_ASK = object()


class RemoteSource:
    """`AnalyticsSource` answered by the process that holds the analytics store."""

    def __init__(
        self,
        path: Path,
        *,
        retention: timedelta | object | None = _ASK,
        timeout: float = 60.0,
        wait: float = 10.0,
    ) -> None:
        """`retention`: the store's, if the caller knows it (else asked on first use);
        `timeout`: for one query; `wait`: how long a call waits for the server to come up
        (the writer process starts beside the API)."""
        self.path = Path(path)
        self.timeout = timeout
        self.wait = wait
        self._retention: tuple[Any] | None = None if retention is _ASK else (retention,)

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
                return sock
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                if time.monotonic() >= deadline:
                    raise AnalyticsUnavailable(
                        f"the analytics store is not reachable at {self.path}: {exc.strerror}"
                        " (is the edge's analytics writer running?)"
                    ) from None
                time.sleep(0.1)

    def _call(self, method: str, *args: Any) -> Any:
        with self._connect() as sock:
            try:
                _send(sock, (method, args))
                status, value = _recv(sock)
            except (OSError, ConnectionError) as exc:
                raise AnalyticsUnavailable(f"the analytics store did not answer: {exc}") from None
        if status == "error":
            raise value
        return value

    @property
    def retention(self) -> timedelta | None:
        if self._retention is None:
            self._retention = (self._call("retention"),)
        value: timedelta | None = self._retention[0]
        return value

    def totals(self, q: Query) -> Mapping[str, int]:
        return self._call("totals", q)  # type: ignore[no-any-return]

    def histogram(self, q: Query) -> Mapping[int, int]:
        return self._call("histogram", q)  # type: ignore[no-any-return]

    def by_score_source(self, q: Query) -> Mapping[str, int]:
        return self._call("by_score_source", q)  # type: ignore[no-any-return]

    def timeseries(self, q: Query, step: timedelta) -> list[tuple[datetime, Mapping[str, int]]]:
        return self._call("timeseries", q, step)  # type: ignore[no-any-return]

    def top(self, q: Query, attribute: str, limit: int) -> list[tuple[str, int]]:
        return self._call("top", q, attribute, limit)  # type: ignore[no-any-return]

    def samples(self, q: Query, limit: int) -> list[dict[str, Any]]:
        return self._call("samples", q, limit)  # type: ignore[no-any-return]

    def report(self, q: Query, top_n: int) -> ReportFigures:
        return self._call("report", q, top_n)  # type: ignore[no-any-return]


__all__ = ["SOCKET_NAME", "AnalyticsUnavailable", "RemoteSource", "serve_queries"]

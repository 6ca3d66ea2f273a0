"""A StateStore in Redis, for edges that share per-client state and rate-limit counters.

Speaks RESP over one socket per store (no client library needed): GET, SET … PX, and a
small script for `incr` so a new counter gets its expiry in the same step. Keys are
prefixed (`bw:` by default). Expiry is Redis's, on the server's clock: the `now` argument
of the protocol (the request's time, which lets the in-memory store replay logs) is not
used. Memory is bounded by the server's `maxmemory` with an LRU or LFU policy, and every
key carries a TTL.

A failed command raises `ConnectionError` after one reconnect attempt; engines treat that
as "no opinion" (the pipeline contains engine failures).
"""

from __future__ import annotations

import io
import socket
import threading
from urllib.parse import urlsplit

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_INCR = (
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return v"
)

Reply = bytes | int | list["Reply"] | None


class RedisError(Exception):
    """Redis answered with an error."""


def _encode(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RedisState:
    def __init__(
        self, url: str = DEFAULT_URL, *, prefix: str = "bw:", timeout: float = 1.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            raise ValueError(f"{url}: only redis:// URLs are supported")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.strip("/") or 0)
        self.password = parts.password
        self.prefix = prefix
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: io.BufferedReader | None = None
        self._lock = threading.Lock()
        self._script: bytes | None = None

    # -- connection -----------------------------------------------------------------------

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._file = sock.makefile("rb")
        if self.password:
            self._roundtrip(_encode("AUTH", self.password))
        if self.db:
            self._roundtrip(_encode("SELECT", self.db))

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._file = None

    def _read(self) -> Reply:
        f = self._file
        assert f is not None
        line = f.readline()
        if not line:
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return bytes(rest)
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            return bytes(data[:-2])
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"unexpected Redis reply {line[:40]!r}")

    def _roundtrip(self, payload: bytes) -> Reply:
        assert self._sock is not None
        self._sock.sendall(payload)
        return self._read()

    def _command(self, *args: bytes | str | int) -> Reply:
        payload = _encode(*args)
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._sock is None:
                        self._connect()
                    return self._roundtrip(payload)
                except (OSError, ConnectionError) as exc:
                    self.close()
                    if attempt == 2:
                        raise ConnectionError(f"Redis at {self.host}:{self.port}: {exc}") from exc
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        return self._command("PING") == b"PONG"

    # -- StateStore -----------------------------------------------------------------------

    def get(self, key: str, now: float) -> bytes | None:
        reply = self._command("GET", self.prefix + key)
        return reply if isinstance(reply, bytes) else None

    def set(self, key: str, value: bytes, ttl: float, now: float) -> None:
        self._command("SET", self.prefix + key, value, "PX", max(1, int(ttl * 1000)))

    def incr(self, key: str, amount: int, ttl: float, now: float) -> int:
        ms = max(1, int(ttl * 1000))
        if self._script is not None:
            try:
                reply = self._command("EVALSHA", self._script, 1, self.prefix + key, amount, ms)
            except RedisError as exc:
                if "NOSCRIPT" not in str(exc):
                    raise
                self._script = None
            else:
                return int(reply)  # type: ignore[arg-type]
        sha = self._command("SCRIPT", "LOAD", _INCR)
        self._script = sha if isinstance(sha, bytes) else None
        reply = self._command("EVAL", _INCR, 1, self.prefix + key, amount, ms)
        return int(reply)  # type: ignore[arg-type]

"""The origin connection pool against origins that misbehave in the ways real ones do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.edge.harness import EchoOrigin, Edge, LoopThread


class RawOrigin:
    """A hand-written HTTP/1.1 origin: `answers` maps a path to raw response bytes; a
    connection's second request on `/hangup` is met by closing the connection."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.thread = LoopThread("raw-origin")
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if path == "/hangup" and served:
                    break
                answer = self.answers.get(path, self.answers["/"])
                writer.write(answer)
                await writer.drain()
                served += 1
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> RawOrigin:
        async def start() -> int:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            port: int = self.server.sockets[0].getsockname()[1]
            return port

        self.port = self.thread.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self.server.close()

        self.thread.run(stop())
        self.thread.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_connection_the_origin_dropped_is_retried_once_for_a_bodiless_request() -> None:
    with RawOrigin({"/": OK, "/hangup": OK}) as origin, Edge(origin.url) as edge, \
            httpx.Client(base_url=edge.url) as c:  # fmt: skip
        assert c.get("/hangup").text == "ok"
        assert c.get("/hangup").text == "ok"  # reused connection hung up: retried
        assert origin.connections == 2


def test_interim_responses_are_skipped_and_connection_close_is_honoured() -> None:
    answers = {
        "/": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
        "/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
        "/eof": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        "/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
    }
    with RawOrigin(answers) as origin, Edge(origin.url) as edge, \
            httpx.Client(base_url=edge.url) as c:  # fmt: skip
        assert c.get("/").text == "final"
        assert c.get("/close").text == "bye"
        assert c.get("/eof").text == "until the end"
        empty = c.get("/empty")
        assert (empty.status_code, empty.content) == (204, b"")


def test_malformed_origin_answers_are_502() -> None:
    with RawOrigin({"/": b"SPEAKING NONSENSE\r\n\r\n"}) as origin, Edge(origin.url) as edge:
        assert httpx.get(f"{edge.url}/", timeout=10).status_code == 502


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoOrigin]:
    with EchoOrigin() as o:
        yield o


def test_head_requests_get_no_body_and_the_connection_is_reused(echo: EchoOrigin) -> None:
    with Edge(echo.url) as edge, httpx.Client(base_url=edge.url) as c:
        head = c.head("/big?n=1000")
        assert head.status_code == 200
        assert head.content == b""
        assert c.get("/after-head").json()["path"] == "/after-head"


def test_many_concurrent_requests_share_the_pool(echo: EchoOrigin) -> None:
    async def burst(url: str) -> int:
        async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=50)) as c:
            rs = await asyncio.gather(*(c.get(f"/p{i}") for i in range(200)))
            return sum(r.json()["path"] == f"/p{i}" for i, r in enumerate(rs))

    with Edge(echo.url, settings={"pool_size": 8}) as edge:
        assert asyncio.run(burst(edge.url)) == 200
        assert edge.app.upstream is not None
        pool = edge.app.upstream._pool
        assert pool is not None
        assert len(pool.open) <= 8

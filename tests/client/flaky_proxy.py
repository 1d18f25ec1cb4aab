"""A real TCP proxy for HTTP/1.1 that drops the connection on a share of requests.

Half of the dropped requests are cut before the server sees all of them (sometimes after part
of the body went through); the other half are forwarded whole, the server answers, and the
answer is thrown away: the client never learns that its request succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

from docflow.broker import free_port


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked bodies are not supported by this test proxy")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _closes(head: bytes) -> bool:
    return b"\r\nconnection: close" in head.lower()


class FlakyProxy:
    def __init__(self, upstream_port: int, drop_rate: float = 0.05, seed: int = 5,
                 host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.drop_rate = drop_rate
        self.requests = self.dropped_before = self.dropped_after = 0
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flaky-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> FlakyProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, self.upstream[0], self.port))
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    def _fate(self) -> str:
        self.requests += 1
        draw = self._rng.random()
        if draw < self.drop_rate / 2:
            self.dropped_before += 1
            return "before"
        if draw < self.drop_rate:
            self.dropped_after += 1
            return "after"
        return "pass"

    async def _serve(self, client_in: asyncio.StreamReader,
                     client_out: asyncio.StreamWriter) -> None:
        server_out: asyncio.StreamWriter | None = None
        try:
            server_in, server_out = await asyncio.open_connection(*self.upstream)
            while True:
                try:
                    head = await client_in.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = _content_length(head)
                fate = self._fate()
                if fate == "before":
                    if length and self._rng.random() < 0.5:  # the server sees half a body
                        server_out.write(head + await client_in.readexactly(length // 2))
                        await server_out.drain()
                    return
                server_out.write(head)
                await _copy(client_in, server_out, length)
                reply = await server_in.readuntil(b"\r\n\r\n")
                reply += await server_in.readexactly(_content_length(reply))
                if fate == "after":
                    return
                client_out.write(reply)
                await client_out.drain()
                if _closes(reply):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for writer in (client_out, server_out):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    while length > 0:
        chunk = await reader.read(min(length, 256 * 1024))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", length)
        writer.write(chunk)
        await writer.drain()
        length -= len(chunk)

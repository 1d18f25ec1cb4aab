"""A real TCP proxy for HTTP/1.1 in front of the real API, misbehaving as networks, load
balancers and captive portals do.

- `drop_rate`: a share of requests whose connection is dropped. Half are cut before the server
  sees all of them (sometimes after part of the body went through); the other half are
  forwarded whole, the server answers, and the answer is thrown away: the client never learns
  that its request succeeded.
- `error_rate`: a share of requests answered with a real HTTP error, each of `error_statuses`
  (503, 429) in turn, with a `Retry-After`, as a busy load balancer does. Half are answered
  before the server sees them; the other half after the server did the work, its answer
  replaced by the error.
- `answer_when=(marker, answer)`: every request whose head or body holds `marker` gets the raw
  HTTP `answer` (see `http_answer`) and never reaches the server (`b""` marks every request).
- `down_after`: after that many requests the server is gone: every later one is cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

from docflow.broker import free_port

REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 522: "Connection Timed Out"}


def http_answer(status: int, body: bytes = b"", content_type: str = "text/plain",
                headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 response that closes its connection."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
             f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
             "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


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
                 host: str = "127.0.0.1", *, error_rate: float = 0.0,
                 error_statuses: tuple[int, ...] = (503, 429), retry_after: str = "1",
                 answer_when: tuple[bytes, bytes] | None = None,
                 down_after: int | None = None) -> None:
        self.upstream = (host, upstream_port)
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.drop_rate, self.error_rate = drop_rate, error_rate
        self.error_statuses, self.retry_after = error_statuses, retry_after
        self.answer_when, self.down_after = answer_when, down_after
        self.requests = self.dropped_before = self.dropped_after = 0
        self.errors_before = self.errors_after = self.answered = self.cut = 0
        self.error_answers: list[int] = []  # the status of each error answered
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
        # Connections still open (idle keep-alives, closes in progress) end with the proxy.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def _fate(self) -> str:
        self.requests += 1
        if self.down_after is not None and self.requests > self.down_after:
            self.cut += 1
            return "cut"
        draw = self._rng.random()
        if draw < self.drop_rate / 2:
            self.dropped_before += 1
            return "before"
        if draw < self.drop_rate:
            self.dropped_after += 1
            return "after"
        if draw < self.drop_rate + self.error_rate / 2:
            self.errors_before += 1
            return "error-before"
        if draw < self.drop_rate + self.error_rate:
            self.errors_after += 1
            return "error-after"
        return "pass"

    def _error(self) -> bytes:
        status = self.error_statuses[len(self.error_answers) % len(self.error_statuses)]
        self.error_answers.append(status)
        return http_answer(status, b"busy, try again later",
                           headers={"Retry-After": self.retry_after})

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
                if fate == "cut":
                    return
                body: bytes | None = None
                if self.answer_when is not None or fate == "error-before":
                    body = await client_in.readexactly(length)
                if self.answer_when is not None and self.answer_when[0] in head + body:
                    self.answered += 1
                    await _reply(client_out, self.answer_when[1])
                    return
                if fate == "error-before":
                    await _reply(client_out, self._error())
                    return
                if fate == "before":
                    if length and self._rng.random() < 0.5:  # the server sees half a body
                        part = body[:length // 2] if body is not None else \
                            await client_in.readexactly(length // 2)
                        server_out.write(head + part)
                        await server_out.drain()
                    return
                server_out.write(head)
                if body is not None:
                    server_out.write(body)
                else:
                    await _copy(client_in, server_out, length)
                reply = await server_in.readuntil(b"\r\n\r\n")
                reply += await server_in.readexactly(_content_length(reply))
                if fate == "after":
                    return
                if fate == "error-after":
                    await _reply(client_out, self._error())
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


async def _reply(writer: asyncio.StreamWriter, answer: bytes) -> None:
    writer.write(answer)
    await writer.drain()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    while length > 0:
        chunk = await reader.read(min(length, 256 * 1024))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", length)
        writer.write(chunk)
        await writer.drain()
        length -= len(chunk)

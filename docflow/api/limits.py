"""Bounds on what a request may make the server read: a body is at most MAX_JSON_BODY bytes,
except a multipart upload to an upload route (streamed to disk by docflow.api.multipart, with
limits of its own); and no NUL character in the path or query, which no database text holds
(PostgreSQL refuses it)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docflow.api.errors import ApiError, error_response, too_large_body

MAX_JSON_BODY = 1024 * 1024
# The routes that stream multipart files to disk (routers/uploads.py).
UPLOAD_PATHS = re.compile(r"/api/(upload|batch-upload|batches/[^/]+/files)")


class RequestLimits:
    """Refuse a NUL in the path or query (422), and a body past `max_bytes` (413) that is not
    an upload: by its Content-Length before a byte is read, else by counting while it arrives
    (then the whole, small, body is handed on)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await error_response(ApiError(422, "invalid_request", "The path or query holds a "
                                          "NUL character (%00), which no value may hold."))(
                scope, receive, send)
            return
        if _is_upload(scope):
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_large_body(self.max_bytes)(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)  # a disconnect: pass it on
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await too_large_body(self.max_bytes)(scope, receive, send)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": bytes(body),
                                        "more_body": False}], then=receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _is_upload(scope: Scope) -> bool:
    return (scope["method"] == "POST" and UPLOAD_PATHS.fullmatch(scope["path"]) is not None
            and (_header(scope, b"content-type") or "").lower().startswith("multipart/"))


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()  # after the body: wait for the client's disconnect
        return {"type": "http.disconnect"}

    return receive

"""Bounds on what a request may make the server read: a body is at most MAX_JSON_BODY bytes,
except a multipart upload to an upload route (streamed to disk by docflow.api.multipart, with
limits of its own)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docflow.api.errors import too_large_body

MAX_JSON_BODY = 1024 * 1024
# The routes that stream multipart files to disk (routers/uploads.py).
UPLOAD_PATHS = re.compile(r"/api/(upload|batch-upload|batches/[^/]+/files)")


class BodyLimit:
    """Refuse (413) a non-multipart body past `max_bytes`: by its Content-Length before a byte is
    read, else by counting while it arrives (then the whole, small, body is handed on)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_JSON_BODY) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_upload(scope):
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

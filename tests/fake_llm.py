"""A language model server on a free local port: real HTTP, canned answers.

Speaks Ollama's `/api/chat` and the OpenAI-compatible `/v1/chat/completions`, records every
request, and can be told to fail (`status`) or what to answer (`reply`: an object, a string, or
a function of the request body).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeModelServer:
    """Answers /api/chat (Ollama) and /v1/chat/completions (OpenAI) with a canned reply."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, dict]] = []  # path, body, headers
        self.reply: object = {"doc_type": "contract", "confidence": 0.92}
        self.status = 200
        self.redirect_to: str | None = None  # answer 307 to this URL instead
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, dict(self.headers)))
                reply = server.reply(body) if callable(server.reply) else server.reply
                content = reply if isinstance(reply, str) else json.dumps(reply)
                if self.path == "/api/chat":
                    payload = {"model": body["model"], "done": True,
                               "message": {"role": "assistant", "content": content}}
                else:
                    payload = {"choices": [{"message": {"role": "assistant",
                                                        "content": content}}]}
                data = json.dumps(payload).encode()
                if server.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

"""Authentication and authorization failures, as JSON `{code, message}` like every API error."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from docflow.api.errors import ErrorBody


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def unauthenticated(code: str, message: str) -> AuthError:
    return AuthError(401, code, message, {"WWW-Authenticate": "Bearer"})


def forbidden(code: str, message: str) -> AuthError:
    return AuthError(403, code, message)


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No credentials, or a token that is wrong, "
          "expired or revoked"},
    403: {"model": ErrorBody, "description": "The credentials lack the scope this route needs, "
          "or a cookie-authenticated change came without its X-CSRF-Token"},
}


def install_auth_error_handler(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, headers=exc.headers,
                            content={"code": exc.code, "message": exc.message})

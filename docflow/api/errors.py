"""Errors cross the API as JSON: a machine `code` and a `message` a person can act on."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"No {what} with id {ident!r}.")


log = logging.getLogger("docflow.api")

# Answers any route may give: the server's own failures (storage, or a bug), as JSON.
SERVER_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    500: {"model": ErrorBody, "description": "An unexpected error (internal_error); the "
                                             "server logged it with its traceback"},
    503: {"model": ErrorBody, "description": "Storage cannot be used (storage_unavailable: "
                                             "read-only or not permitted)"},
    507: {"model": ErrorBody, "description": "Not enough free disk space (insufficient_storage); "
                                             "nothing was stored"},
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (bad_request), or the "
                                             "connection closed before it ended"},
    404: {"model": ErrorBody, "description": "Not found"},
    413: {"model": ErrorBody, "description": "The body, or a file in it, is over its size limit "
                                             "(too_large)"},
    422: {"model": ErrorBody, "description": "Invalid request"},
    **SERVER_ERROR_RESPONSES,
}

UPLOAD_ERROR_RESPONSES = ERROR_RESPONSES

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
# How the databases say the same: SQLite by message, PostgreSQL by SQLSTATE.
_DB_FULL = ("database or disk is full", "53100")
_DB_NOT_WRITABLE = ("readonly database", "unable to open database file", "25006")


def storage_error(exc: OSError) -> ApiError | None:
    """The answer for a storage failure a client should hear about, else None."""
    if exc.errno in _DISK_FULL:
        return ApiError(507, "insufficient_storage", "The server's disk is full: nothing was "
                        "stored. Try again once space has been freed.")
    if exc.errno in _NOT_WRITABLE:
        return ApiError(503, "storage_unavailable", "The server cannot use its storage "
                        "(read-only or not permitted): nothing was changed. Try again later.")
    return None


def database_storage_error(exc: OperationalError) -> ApiError | None:
    """The answer for a database that cannot store (full, read-only), else None."""
    said = f"{getattr(exc.orig, 'sqlstate', None)} {exc.orig}"
    if any(sign in said for sign in _DB_FULL):
        return storage_error(OSError(errno.ENOSPC, said))
    if any(sign in said for sign in _DB_NOT_WRITABLE):
        return storage_error(OSError(errno.EROFS, said))
    return None


def error_response(exc: ApiError) -> JSONResponse:
    return _json(exc)


def too_large_body(max_bytes: int) -> JSONResponse:
    return _json(ApiError(413, "too_large", f"The request body is larger than the limit of "
                          f"{max_bytes} bytes."))


def _json(exc: ApiError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"code": exc.code, "message": exc.message})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _json(exc)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        answer = storage_error(exc)
        if answer is None:
            return await _internal(request, exc)
        log.error("%s %s: %s (%s)", request.method, request.url.path, answer.code, exc)
        return _json(answer)

    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: OperationalError) -> JSONResponse:
        answer = database_storage_error(exc)
        if answer is None:
            return await _internal(request, exc)
        log.error("%s %s: %s (%s)", request.method, request.url.path, answer.code, exc.orig)
        return _json(answer)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        if "NUL" not in str(exc.orig):
            return await _internal(request, exc)
        # PostgreSQL text holds no NUL: a value sent with one is the client's to fix.
        return _json(ApiError(422, "invalid_request", "A text value holds a NUL character "
                              "(\\u0000), which no value may hold."))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={
            "code": "internal_error", "message": "The server failed to answer this request; "
            "the error is in its log. Try again, and report it if it persists."})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return JSONResponse(status_code=422, content={
            "code": "invalid_request", "message": f"The request is not valid: {problems}",
            "details": [{k: v for k, v in e.items() if k in ("loc", "msg", "type")}
                        for e in exc.errors()]})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={
            "code": _HTTP_CODES.get(exc.status_code, "http_error"), "message": str(exc.detail)})

"""What can go wrong on the client side, each with a code and a sentence a user can act on."""

from __future__ import annotations


class ClientError(Exception):
    code = "client_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ServerUnreachable(ClientError):
    """The server did not answer for a whole retry budget, several times in a row."""

    code = "unreachable"


class CheckpointMismatch(ClientError):
    """The checkpoint file belongs to another folder or server."""

    code = "checkpoint_mismatch"


class TransportFailed(ClientError):
    """Every attempt of one request ended in a connection error or a timeout."""

    code = "connection_failed"


class RequestFailed(ClientError):
    """The server answered with an error it will give again: no point retrying as is."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code)
        self.status = status


class UnexpectedAnswer(ClientError):
    """A success that is not docflow's JSON: a captive portal, a proxy's page, a wrong --url.
    Retried like a dropped connection (a proxy may pass the next one through)."""

    code = "unexpected_answer"


class UnreadableFile(ClientError):
    """A local file could not be opened or read (removed, or no permission)."""

    code = "unreadable"

    def __init__(self, rel: str, exc: OSError) -> None:
        super().__init__(f"Could not read the file: {exc.strerror or exc}.")
        self.rel = rel

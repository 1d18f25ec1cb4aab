"""Content hashes and idempotency keys.

A file's key is derived from where it lives (host and folder, fixed when the checkpoint is
created), its path in the folder and its SHA-256: the same file sent again, by a retry or by a
rerun that lost its checkpoint, is the same key, and the server keeps one document for it.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def key_scope(root: Path) -> str:
    """Where the files come from: this host and the folder's absolute path."""
    return f"{socket.gethostname()}:{root.resolve()}"


def file_key(scope: str, rel: str, sha256: str) -> str:
    """The file's Idempotency-Key (the server allows letters, digits and . _ : -)."""
    return "f1-" + hashlib.sha256(f"{scope}\0{rel}\0{sha256}".encode()).hexdigest()


def batch_key(session_id: str, seq: int) -> str:
    """The key that makes "create batch number `seq` of this upload" safe to retry."""
    return f"b1-{session_id}-{seq}"

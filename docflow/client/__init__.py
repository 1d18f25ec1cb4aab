"""The batch upload client: a folder of any size to a docflow server, resumable, each file
once. `docflow upload` and `docflow monitor` are its command line; these are its parts.

    summary = asyncio.run(Uploader(UploadOptions(Path("scans")), checkpoint, api).run())
"""

from docflow.client.api import BatchState, DocflowApi, Limits, ListedBatch, ListedDocument
from docflow.client.checkpoint import Checkpoint
from docflow.client.commands import (
    DEFAULT_URL,
    default_checkpoint,
    run_list_batches,
    run_list_documents,
    run_monitor,
    run_upload,
)
from docflow.client.errors import (
    CheckpointMismatch,
    ClientError,
    RequestFailed,
    ServerUnreachable,
    TransportFailed,
    UnexpectedAnswer,
)
from docflow.client.monitor import follow_batches
from docflow.client.retry import RetryPolicy
from docflow.client.uploader import (
    MAX_CONCURRENCY,
    Failure,
    Uploader,
    UploadOptions,
    UploadSummary,
)
from docflow.client.walk import FileFilter, walk_files

__all__ = ["DEFAULT_URL", "MAX_CONCURRENCY", "BatchState", "Checkpoint", "CheckpointMismatch",
           "ClientError", "DocflowApi", "Failure", "FileFilter", "Limits", "ListedBatch",
           "ListedDocument", "RequestFailed",
           "RetryPolicy", "ServerUnreachable", "TransportFailed", "UnexpectedAnswer",
           "UploadOptions", "UploadSummary", "Uploader", "default_checkpoint", "follow_batches",
           "run_list_batches", "run_list_documents", "run_monitor", "run_upload", "walk_files"]

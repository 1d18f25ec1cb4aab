"""Celery app, tasks, reconciler, indexer and worker heartbeats."""

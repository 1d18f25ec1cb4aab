"""deploy/prometheus/alerts.yaml and deploy/grafana/docflow.json, read offline: the rules are
well-formed, every query parses as PromQL (promql-parser, the Rust parser Prometheus-compatible
tools use; promtool too where Debian's `prometheus` package is installed), and every metric
they name is one docflow's /metrics really exports."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import redis
import yaml
from fastapi.testclient import TestClient

from docflow.config import Settings
from docflow.observability.counters import Counters, Increments
from docflow.observability.metrics import COUNTER_HELP, HISTOGRAM_HELP
from docflow.store import Store, workers
from docflow.store import documents as docs
from tests.conftest import put
from tests.observability.test_metrics import scrape

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "docflow.json"
# The alerts the issue asks for: no worker up, failure rate, queue not draining.
REQUIRED_ALERTS = {"DocflowNoWorkerUp", "DocflowFailureRateHigh", "DocflowQueueNotDraining"}


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


@pytest.fixture
def exported(settings: Settings, store: Store, api: TestClient, broker: redis.Redis) -> set[str]:
    """The metric names a scrape shows once every shared counter has a value."""
    inc = Increments()
    for name in COUNTER_HELP:
        inc.count(name, {"name": "x"})
    for name in HISTOGRAM_HELP:
        inc.observe(name, {"stage": "detect"}, 0.1)
    assert Counters(settings.effective_broker_url()).add(inc)
    with store.db.write() as session:  # a worker, and a failed document
        workers.heartbeat(session, name="w@h", hostname="h", pid=1, concurrency=1,
                          queues="default")
        (doc,) = docs.register_documents(session, [put(store, b"x")])
        docs.mark_failed(doc, "corrupt", "broken")
    return {name for name, _ in scrape(api)}


def test_the_alert_rules_are_well_formed_and_cover_the_issue() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations",
                             "keep_firing_for"}, rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}  # type: ignore[index]
        assert rule["annotations"]["summary"]  # type: ignore[index]
        promql_parser.parse(str(rule["expr"]))  # raises ValueError on a syntax error
        promql_parser.parse_duration(str(rule["for"]))


def test_a_broken_query_is_caught() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(rate(docflow_documents_ended_total[5m])")


def test_rules_and_dashboard_name_only_metrics_docflow_exports(exported: set[str]) -> None:
    queries = [str(r["expr"]) for r in _rules()] + _dashboard_queries()
    named = set().union(*(metric_names(q) for q in queries))
    assert named - exported == set()
    assert {"celery_worker_up", "celery_queue_length", "docflow_documents_ended_total",
            "docflow_stage_seconds_bucket"} <= named


def test_the_dashboard_is_importable_grafana_json() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "docflow" and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool comes with Debian's prometheus package")
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

"""The metrics registry, and the Grafana dashboard that reads it."""
import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kzcarrier.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[1] / "design_docs" / "grafana-dashboard.json"


def exposed_names(metrics: Metrics) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def test_every_dashboard_query_reads_a_metric_the_engine_exposes():
    m = Metrics()
    m.request_done("move", "completed", "knm_telnyx", 0.2)     # labelled series appear
    m.carrier_call("knm_telnyx", "acquire", 0.1, "unspecified_fault")
    m.backlog.labels("numbers/+1415").set(1)
    m.oldest_pending.labels("numbers/+1415").set(1)
    m.feed_lag.labels("numbers/+1415").set(1)
    names = exposed_names(m)
    dash = json.loads(DASHBOARD.read_text())
    used = {name for panel in dash["panels"] for target in panel["targets"]
            for name in re.findall(r"kzcarrier_\w+", target["expr"])}
    assert len(used) >= 10
    assert used <= names, used - names


def test_one_registry_per_engine():
    a, b = Metrics(), Metrics()
    a.request_done("create", "completed", "knm_local")
    assert b"kzcarrier_requests_total{" not in b.render()
    assert b'kzcarrier_requests_total{carrier="knm_local",operation="create",status="completed"} 1.0' \
        in a.render()

"""The engine as operators run it: `kzcarrier watch` processes, killed, restarted, several at
once, and the CouchDB server restarted under them. The carrier is the counting
third-party carrier, keeping its order book in CouchDB so every process shares it."""
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from engine_helpers import CHILD, FAST, PLUGINS

from kzcarrier.app import App, Settings
from kzcarrier.couch.client import Couch
from kzcarrier.couch.embedded import EmbeddedServer, free_port
from kzcarrier.engine.watcher import Watcher

ROOT = Path(__file__).resolve().parents[2]


def seed(couch: Couch, count: int, prefix: str = "+1646") -> list[str]:
    """`count` discovery numbers at the acme carrier, each with a `move` request."""
    db = f"numbers/{prefix}"
    couch.ensure_db(db)
    for extra in ("acme_orders", "acme_refused"):
        couch.ensure_db(extra)
    nums = [f"{prefix}555{i:04d}" for i in range(count)]
    docs = [{"_id": n, "pvt_state": "discovery", "pvt_module_name": "knm_acme",
             "pvt_request": {"id": uuid.uuid4().hex, "operation": "move",
                             "options": {"assign_to": CHILD}}} for n in nums]
    couch.bulk_save(db, docs)
    return nums


def watch_process(url: str, *args: str, latency: str = "0.05",
                  stderr: int = subprocess.DEVNULL) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "ACME_ORDERS_URL": url,
           "ACME_LATENCY": latency}
    return subprocess.Popen(
        [sys.executable, "-m", "kzcarrier", "--couch-url", url, "watch", "--pool", "32",
         "--sweep-interval", "0.5", "--heartbeat-interval", "0.5", "--idle-sleep", "0.05",
         "--log-level", "WARNING", *args],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)


def assert_each_bought_once(couch: Couch, nums: list[str], prefix: str = "+1646"):
    db = f"numbers/{prefix}"
    docs = couch.bulk_get(db, nums)
    states = {n: (d["pvt_request_state"]["status"], d["pvt_state"]) for n, d in docs.items()}
    assert set(states.values()) == {("completed", "in_service")}, \
        {n: s for n, s in states.items() if s != ("completed", "in_service")}
    orders = {r["id"]: r["doc"] for r in couch.all_docs("acme_orders")}
    assert sorted(orders) == sorted(nums)                      # one sale per number
    assert couch.all_docs("acme_refused") == []                # no second order, ever
    for num, doc in docs.items():
        assert orders[num]["reference"] == doc["pvt_request"]["id"]
        assert doc["pvt_carrier_data"]["reference"] == doc["pvt_request"]["id"]
        assert len(doc["pvt_transitions"]) == 1


def test_sigkill_at_random_points_never_buys_twice(app):
    couch = app.couch
    app.config.set("number_manager", "request_claim_ttl_s", 1.5)
    nums = seed(couch, 220)
    rng = random.Random(7)
    for _ in range(4):
        proc = watch_process(app.settings.couch_url)
        time.sleep(rng.uniform(1.0, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    done = sum(1 for d in couch.bulk_get("numbers/+1646", nums).values()
               if d.get("pvt_request_state", {}).get("status") == "completed")
    assert done < len(nums), "the kills came too late to interrupt anything"
    final = watch_process(app.settings.couch_url, "--once", stderr=subprocess.PIPE)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    assert_each_bought_once(couch, nums)


def test_three_watchers_share_the_work_exactly_once(app):
    couch = app.couch
    nums = seed(couch, 150)
    procs = [watch_process(app.settings.couch_url, "--worker-id", f"w{i}") for i in range(3)]
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            docs = couch.bulk_get("numbers/+1646", nums)
            if all(d.get("pvt_request_state", {}).get("status") == "completed"
                   for d in docs.values()):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(60) for p in procs]
    assert codes == [0, 0, 0]                      # graceful stop on SIGTERM
    assert_each_bought_once(couch, nums)
    docs = couch.bulk_get("numbers/+1646", nums)
    assert all(d["pvt_request_state"]["attempts"] == 1 for d in docs.values())
    assert couch.all_docs("kzcarrier", start_key="worker:", end_key="worker:\ufff0") == []


@pytest.mark.skipif(bool(os.environ.get("KZCARRIER_TEST_COUCH_URL")),
                    reason="restarts the embedded server; a CouchDB given by URL is not ours "
                           "to restart")
def test_couchdb_restart_mid_run_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    port = free_port()
    server = EmbeddedServer(tmp_path / "couch", port=port).start()   # on disk: survives
    try:
        monkeypatch.setenv("ACME_ORDERS_URL", server.url)
        monkeypatch.setenv("ACME_LATENCY", "0.02")
        app = App(Settings(couch_url=server.url, timeout=5))
        nums = seed(app.couch, 120)
        watcher = Watcher(app.couch, app.config, FAST)
        import threading
        t = threading.Thread(target=watcher.run, daemon=True)
        t.start()
        time.sleep(0.8)
        server.stop()
        time.sleep(1.0)
        server = EmbeddedServer(tmp_path / "couch", port=port).start()
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                docs = app.couch.bulk_get("numbers/+1646", nums)
            except Exception:
                time.sleep(0.2)
                continue
            if all(d.get("pvt_request_state", {}).get("status") == "completed"
                   for d in docs.values()):
                break
            time.sleep(0.2)
        watcher.stop()
        t.join(60)
        assert not t.is_alive()
        assert_each_bought_once(app.couch, nums)
    finally:
        server.stop()


@pytest.mark.skipif(bool(os.environ.get("KZCARRIER_TEST_COUCH_URL")),
                    reason="`kzcarrier up` runs its own embedded server")
def test_kzcarrier_up_serves_and_processes_requests(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kzcarrier", "up", "--port", str(port),
                             "--data", str(tmp_path / "data")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        assert f"http://127.0.0.1:{port}" in line
        shown: list[str] = []
        import threading
        reader = threading.Thread(target=lambda: shown.extend(l.decode() for l in proc.stdout),
                                  daemon=True)
        reader.start()
        deadline = time.time() + 60
        while time.time() < deadline and not any("demo: released" in l for l in shown):
            time.sleep(0.1)
        text = "".join(shown)
        assert "demo: searched +1646" in text and "demo: bought +1646" in text, text
        assert "state in_service" in text and "demo: released" in text, text
        couch = Couch(f"http://127.0.0.1:{port}")
        assert couch.get("system_config", "number_manager")["default"]
        couch.ensure_db("numbers/+1646")
        couch.put("numbers/+1646", {"_id": "+16465550100", "pvt_request": {
            "id": "r1", "operation": "create", "options": {"assign_to": CHILD}}})
        deadline = time.time() + 30
        while time.time() < deadline:
            doc = couch.get("numbers/+1646", "+16465550100")
            if doc.get("pvt_request_state", {}).get("status") == "completed":
                break
            time.sleep(0.1)
        assert doc["pvt_state"] == "in_service"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        time.sleep(0.5)  # the reader sees the end of the output and stops
        proc.stdout.close()


def test_sigterm_with_a_thousand_queued_exits_fast_and_loses_nothing(app):
    """SIGTERM to `kzcarrier watch` with 1,000 purchases queued at 200 ms each: the calls
    in flight finish and are written, queued ones are left for the next worker, the process
    exits 0 within 10 s (systemd and Kubernetes wait 30 s), and nothing is bought twice."""
    couch = app.couch
    nums = seed(couch, 1000)
    proc = watch_process(app.settings.couch_url, latency="0.2", stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not couch.all_docs("acme_orders"):
        time.sleep(0.2)
    time.sleep(1.0)                                    # well into the backlog
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - signalled < 10
    sold_at_exit = len(couch.all_docs("acme_orders"))
    assert 0 < sold_at_exit < len(nums)
    time.sleep(1.0)
    assert len(couch.all_docs("acme_orders")) == sold_at_exit   # nothing bought after exit
    final = watch_process(app.settings.couch_url, "--once", latency="0",
                          stderr=subprocess.PIPE)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    assert_each_bought_once(couch, nums)


@pytest.mark.parametrize("args, said", [
    ((), "named by _db_updates"),
    (("--no-db-updates",), "found by looking at each in turn (--no-db-updates)")])
def test_watch_says_how_it_finds_requests_in_idle_databases_and_finds_them(app, args, said):
    """Where the server answers `_db_updates` (CouchDB, the embedded server) it names the
    databases written to; `--no-db-updates` (a CouchDB whose [global_changes] records
    nothing) looks at each idle database in turn instead. The worker says which at start,
    and either way a request written into a database it has not seen active is bought."""
    couch = app.couch
    couch.ensure_db("numbers/+1646")                 # idle from the start
    started = seed(couch, 1, prefix="+1647")         # bought at start
    proc = watch_process(app.settings.couch_url, "--log-level", "INFO", *args,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(couch.all_docs("acme_orders")) < 1:
            time.sleep(0.1)
        time.sleep(1.0)
        nums = seed(couch, 3)                        # another database, new to the worker
        while time.monotonic() < deadline and len(couch.all_docs("acme_orders")) < 4:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert f"requests in idle databases: {said}" in err.decode()
    docs = couch.bulk_get("numbers/+1646", nums)
    assert {d["pvt_request_state"]["status"] for d in docs.values()} == {"completed"}
    assert sorted(r["id"] for r in couch.all_docs("acme_orders")) == sorted(started + nums)

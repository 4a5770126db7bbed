"""The offline demo `kzcarrier up` runs by default: every carrier simulator started on
loopback, kzcarrier's configuration pointed at them, then a search, a purchase and a
release carried out through documents and the engine, each step printed."""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from .app import App
from .model.config import NUMBER_MANAGER
from .search import Search
from .simulators import Simulator, simulators

DEMO_ACCOUNT = "0000000000000000000000000000demo"
CREDENTIALS = {
    "telnyx": lambda s: {"api_url": f"{s.url}/origination", "user": s.user, "token": s.token},
    "bandwidth2": lambda s: {"api_url": f"{s.url}/v1.0", "account_id": s.account_id,
                             "api_username": s.user, "api_password": s.password,
                             "order_poll_ms": 200},
    "other": lambda s: {"phonebook_url": s.url},
    "vitelity": lambda s: {"api_uri": f"{s.url}/api.php", "login": s.login,
                           "pass": s.password, "routesip": "127.0.0.1"},
    "simwood": lambda s: {"numbers_api_url": f"{s.url}/v3/numbers",
                          "simwood_account_id": s.account, "auth_username": s.user,
                          "auth_password": s.password},
    "voxbone": lambda s: {"api_url": f"{s.url}/ws-voxbone/services/rest",
                          "api_username": s.user, "api_password": s.password},
    "voip_innovations": lambda s: {"api_url": f"{s.url}/Services/APIService.asmx",
                                   "login": s.login, "password": s.secret,
                                   "endpoint_group": "demo"},
}


def start_simulators(app: App) -> list[Simulator]:
    """Start every simulator and point `number_manager.<carrier>` at it."""
    running = []
    for name, cls in sorted(simulators().items()):
        sim = cls().start()
        running.append(sim)
        for key, value in CREDENTIALS[name](sim).items():
            app.config.set(f"{NUMBER_MANAGER}.{name}", key, value)
    app.config.set(NUMBER_MANAGER, "carrier_modules",
                   ["knm_local"] + [f"knm_{s.name}" for s in running])
    return running


def _wait(app: App, num: str, rid: str, timeout: float = 60) -> dict[str, Any]:
    db = f"numbers/{num[:5]}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = app.couch.last_revision(db, num) or {}   # a release may delete it
        st = doc.get("pvt_request_state") or {}
        if st.get("id") == rid and st.get("status") in ("completed", "failed", "dry_run"):
            return doc
        time.sleep(0.1)
    raise TimeoutError(f"request {rid} on {num} did not finish")


def _ask(app: App, num: str, operation: str, **options: Any) -> str:
    rid = f"demo-{uuid.uuid4().hex[:8]}"
    db = f"numbers/{num[:5]}"
    app.couch.ensure_db(db)
    app.couch.update(db, num, lambda d: {**(d or {}), "pvt_request": {
        "id": rid, "operation": operation, "options": options}})
    return rid


def run(app: App, say: Callable[[str], None]) -> None:
    """Search at every simulated carrier, buy one number, release it."""
    found = Search(app.couch, app.config).find("646", quantity=3, store=True)
    say(f"demo: searched +1646 at {len(found.numbers[0]['offers']) if found.numbers else 0}"
        f" carriers: {', '.join(e['number'] for e in found.numbers)}")
    offers = [e for e in found.numbers if any(o["state"] == "discovery" for o in e["offers"])]
    if not offers:
        raise RuntimeError("no carrier offered a number to buy")
    num = offers[0]["number"]
    doc = _wait(app, num, _ask(app, num, "move", assign_to=DEMO_ACCOUNT, auth_by="system"))
    say(f"demo: bought {num} from {doc.get('pvt_module_name')}: state "
        f"{doc.get('pvt_state')}, order {doc.get('pvt_carrier_data', {}).get('order_id')}")
    doc = _wait(app, num, _ask(app, num, "release", auth_by="system"))
    st = doc["pvt_request_state"]
    say(f"demo: released {num}: state {st.get('to_state')} ({st['status']})")

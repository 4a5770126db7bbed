"""`kzcarrier search`, `check` and `simulate`: carriers from the command line."""
from __future__ import annotations

import signal
import threading

import click

from ..app import App
from ..errors import KzError
from .common import emit


@click.command("search")
@click.argument("prefix")
@click.option("--quantity", default=10, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.option("--carrier", "carriers", multiple=True, help="Ask only these (repeatable).")
@click.option("--account", "account_id", default=None, help="Searching account id.")
@click.option("--reseller", "reseller_id", default=None, help="Its reseller's account id.")
@click.option("--country", default="US", show_default=True)
@click.option("--store", is_flag=True, help="Keep the results as discovery documents.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search_cmd(app: App, prefix: str, quantity: int, offset: int, carriers: tuple[str, ...],
               account_id: str | None, reseller_id: str | None, country: str, store: bool,
               as_json: bool) -> None:
    """Find numbers at every selected carrier at once."""
    from ..search import Search

    result = Search(app.couch, app.config).find(
        prefix, quantity, offset, list(carriers) or None, account_id, reseller_id, country,
        store)
    lines = [f"{e['number']}  " + ", ".join(f"{o['carrier']} ({o['state']})"
                                           for o in e["offers"]) for e in result.numbers]
    lines.append(f"{len(result.numbers)} of {result.total} numbers for {result.prefix}"
                 + (f"; stored {result.stored} discovery documents" if store else ""))
    lines += [f"  {c}: {r}" for c, r in result.errors.items()]
    lines += [f"  {c}: no answer in time" for c in result.timed_out]
    emit(result.to_json(), as_json, "\n".join(lines))


@click.command("check")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--carrier", "carriers", multiple=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check_cmd(app: App, numbers: tuple[str, ...], carriers: tuple[str, ...],
              as_json: bool) -> None:
    """Ask the carriers about NUMBERS (check_numbers)."""
    from ..search import Search

    out = Search(app.couch, app.config).check(list(numbers), list(carriers) or None)
    emit(out, as_json, "\n".join(f"{n}  {s}" for n, s in out.items()))


@click.command("carriers-info")
@click.option("--auth-by", default="system", show_default=True,
              help="Account id asking (its creation states are listed), or 'system'.")
@click.option("--account", "account_id", default=None, help="Account whose carriers apply.")
@click.option("--reseller", "reseller_id", default=None, help="Its reseller's account id.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def carriers_info_cmd(app: App, auth_by: str, account_id: str | None,
                      reseller_id: str | None, as_json: bool) -> None:
    """What KAZOO's `carriers_info` answers: prefix length, carriers, creation states."""
    from ..carriers import CarrierContext, load
    from ..carriers.selection import available_carriers, carriers_info

    ctx = CarrierContext(couch=app.couch, config=app.config)
    used = [load(m, ctx) for m in available_carriers(app.config, account_id, reseller_id)]
    info = carriers_info(app.config, used, auth_by)
    emit(info, as_json, "\n".join(f"{k}: {v}" for k, v in info.items()))


@click.command("simulate")
@click.argument("carrier")
@click.option("--port", default=0, help="Loopback port (default: any free one).")
@click.option("--latency", default=0.0, help="Seconds added to every answer.")
@click.pass_obj
def simulate(app: App, carrier: str, port: int, latency: float) -> None:
    """Run CARRIER's API simulator (or `all`) until Ctrl-C; prints the config to use."""
    from ..simulators import simulators

    known = simulators()
    names = sorted(known) if carrier == "all" else [carrier.removeprefix("knm_")]
    for name in names:
        if name not in known:
            raise KzError(f"no simulator for {carrier!r}", "available: " + ", ".join(known))
    running = []
    for i, name in enumerate(names):
        sim = known[name]()
        sim.faults.latency = latency
        sim.start(port=port + i if port else 0)
        running.append(sim)
        click.echo(f"{name} simulator on {sim.url}: kzcarrier config set number_manager.{name} "
                   f"api_url {sim.url}/origination (user {getattr(sim, 'user', '')}, token "
                   f"{getattr(sim, 'token', '')})")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    for sim in running:
        sim.stop()


@click.command("stock")
@click.argument("carrier")
@click.option("--area-code", required=True, help="Area code (national digits) to buy in.")
@click.option("--quantity", default=1, show_default=True)
@click.option("--country", default="US", show_default=True)
@click.pass_obj
def stock(app: App, carrier: str, area_code: str, quantity: int, country: str) -> None:
    """Buy numbers into CARRIER's account ahead of search (carriers that sell from stock,
    such as voxbone); they are then found by `kzcarrier search`."""
    from .. import carriers
    from ..carriers import CarrierContext

    c = carriers.load(carrier, CarrierContext(couch=app.couch, config=app.config))
    if not hasattr(c, "buy_stock"):
        raise KzError(f"{c.name} sells numbers individually; search and buy them instead")
    bought = c.buy_stock(area_code, quantity, country)
    emit(bought, False, "\n".join(bought) + f"\nbought {len(bought)} numbers at {c.name}")

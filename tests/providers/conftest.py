"""Simulated provider APIs, configured in the loaded fixture world: account 2 (RESELLER)
takes its providers from account 1's `configs_number_manager` (Telnyx E911 and CNAM),
every other account from the system default (Dash E911, the CNAM notifier)."""
import pytest

from kzcarrier.simulators.dash_e911 import DashE911Simulator
from kzcarrier.simulators.telnyx import TelnyxSimulator


@pytest.fixture
def telnyx(loaded):
    sim = TelnyxSimulator().start()
    cfg = loaded.config
    cfg.set("number_manager.telnyx", "api_url", f"{sim.url}/origination")
    cfg.set("number_manager.telnyx", "user", sim.user)
    cfg.set("number_manager.telnyx", "token", sim.token)
    cfg.set("number_manager.telnyx", "timeout_ms", 2000)
    yield sim
    sim.stop()


@pytest.fixture
def dash(loaded):
    sim = DashE911Simulator().start()
    cfg = loaded.config
    cfg.set("number_manager.dash_e911", "emergency_provisioning_url", sim.url)
    cfg.set("number_manager.dash_e911", "auth_username", sim.user)
    cfg.set("number_manager.dash_e911", "auth_password", sim.password)
    cfg.set("number_manager.dash_e911", "timeout_ms", 2000)
    yield sim
    sim.stop()

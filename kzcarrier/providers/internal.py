"""Providers with no API (`knm_prepend`, `knm_failover`, `knm_force_outbound`,
`knm_rename_carrier`; reference/kazoo-feature-providers.md §4): they copy a public field
into `pvt_features` while the number is in service, and drop it otherwise."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import carriers
from ..errors import Forbidden, Invalid
from ..model.auth import is_true
from . import Provider, ProviderRun

if TYPE_CHECKING:
    from ..model.document import PhoneNumber


class _InService(Provider):
    """Kept only while in service; the public object is stored as is."""

    feature = ""

    def wanted(self, value: Any) -> Any:
        return value if isinstance(value, dict) and value else None

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        if pn.state != "in_service":
            pn.set_feature(self.feature, None)
            return
        pn.set_feature(self.feature, self.wanted(pn.public(self.feature)))

    def delete(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        pn.set_feature(self.feature, None)


class Prepend(_InService):
    feature = "prepend"

    def wanted(self, value: Any) -> Any:
        if not isinstance(value, dict) or not is_true(value.get("enabled")):
            return None
        return value


class Failover(_InService):
    feature = "failover"


class ForceOutbound(_InService):
    """A boolean (or "true"/"false"); `false` is stored, anything else removes it."""

    feature = "force_outbound"

    def wanted(self, value: Any) -> Any:
        if value in (True, "true"):
            return True
        if value in (False, "false"):
            return False
        return None


class RenameCarrier(Provider):
    """`carrier_name`: an admin changes `pvt_module_name`; no carrier API is called."""

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        raw = pn.public("carrier_name")
        if raw is None:
            return
        if not run.is_admin:
            raise Forbidden()
        name = str(raw)
        while name.startswith(("knm_", "wnm_")):
            name = name[4:]
        module = carriers.module_name("bandwidth2" if name == "bandwidth" else name)
        try:
            carriers.carrier_class(module)
        except carriers.UnknownCarrier:
            raise Invalid(f"'{raw}' is not known by the system") from None
        pn.module_name = module
        pn.set_public("carrier_name", None)

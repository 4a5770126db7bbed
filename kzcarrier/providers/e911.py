"""E911: the service address emergency calls are routed by (reference/kazoo-feature-
providers.md §5, §6). A registration is a real, regulated side effect, so each provider:

* validates the address before any carrier is called (a bad one fails the request with
  KAZOO's 400 `invalid`, a choice of corrected addresses with 500 `multiple_choice`);
* asks the provider what the number has now and calls only when that differs (a save
  repeated after a crash registers nothing twice);
* keeps the address in `pvt_features.e911` only while the number is reserved, in service
  or porting in, and removes it at the provider otherwise.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..errors import Invalid, KzError
from . import UPSTREAM_STATES, Provider, ProviderRun

if TYPE_CHECKING:
    from ..model.document import PhoneNumber

REQUIRED = ("street_address", "locality", "region", "postal_code")


class MultipleChoice(KzError):
    """The provider knows more than one address like this one: the client must choose."""

    code, error = 500, "unspecified_fault"

    def __init__(self, address: dict[str, Any], candidates: list[dict[str, Any]]):
        super().__init__("multiple_choice", json.dumps(
            {"cause": address, "details": candidates,
             "message": "more than one address found"}, sort_keys=True))


def check_address(value: Any) -> None:
    """The crossbar schema's rules for `e911`."""
    if not isinstance(value, dict):
        raise Invalid("e911 must be an object")
    missing = [k for k in REQUIRED if not isinstance(value.get(k), str) or not value[k]]
    if missing:
        raise Invalid(f"e911 needs {', '.join(missing)}")
    if len(value["region"]) != 2:
        raise Invalid("e911.region must be 2 characters")
    name = value.get("caller_name")
    if name is not None and not (isinstance(name, str) and len(name) >= 3):
        raise Invalid("e911.caller_name must be at least 3 characters")


def caller_name(address: dict[str, Any], run: ProviderRun) -> str:
    name = address.get("caller_name")
    if isinstance(name, str) and name:
        return name
    if run.account_name:
        return run.account_name.ljust(3)
    return "Valued Customer"


class E911(Provider):
    upstream = True

    def check(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        value = pn.public("e911")
        if value and value != pn.feature("e911"):
            check_address(value)
            self.validate(pn, value)

    def validate(self, pn: "PhoneNumber", address: dict[str, Any]) -> None:
        return None

    def pending(self, pn: "PhoneNumber") -> bool:
        if pn.state not in UPSTREAM_STATES:
            return bool(pn.feature("e911"))
        return (pn.public("e911") or None) != (pn.feature("e911") or None)

    def save(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        if pn.state not in UPSTREAM_STATES:
            self.delete(pn, run)
            return
        value = pn.public("e911") or None
        if not value:
            if pn.feature("e911") and not run.dry_run:
                self.remove(pn, run)
            pn.set_feature("e911", None)
            return
        if value == pn.feature("e911"):
            return
        if run.dry_run or self.sandbox():
            pn.set_feature("e911", value)
            return
        self.register(pn, run, value)

    def delete(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        if pn.feature("e911") and not run.dry_run:
            self.remove(pn, run)
        pn.set_feature("e911", None)

    def sandbox(self) -> bool:
        return False

    def register(self, pn: "PhoneNumber", run: ProviderRun, address: dict[str, Any]) -> None:
        raise NotImplementedError

    def remove(self, pn: "PhoneNumber", run: ProviderRun) -> None:
        raise NotImplementedError


def clean(text: Any) -> str:
    """Upper case, letters, digits and spaces only (how providers compare addresses)."""
    return re.sub(r"[^A-Z0-9 ]", "", str(text or "").upper())

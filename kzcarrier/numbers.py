"""Phone numbers as KAZOO sees them: E.164 normalisation, reconciliation, classification
and database naming (`knm_converters`). Pure: no I/O, rules passed in.

The rules come from `system_config/number_manager` (`e164_converters`, `reconcile_regex`,
`classifiers`); `NumberRules.from_config` builds them, and `NumberRules()` is KAZOO's
defaults. The number *document* lives in `kzcarrier.document`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping
from urllib.parse import quote

import phonenumbers

from .errors import InvalidNumber, NotReconcilable

# knm_converter_regex defaults; order matters (first match wins).
DEFAULT_E164_CONVERTERS: dict[str, dict[str, str]] = {
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": {"prefix": "+1"},
    r"^011(\d{5,})$|^00(\d{5,})$": {"prefix": "+"},
    r"^[2-9]\d{7,}$": {"prefix": "+"},
}

DEFAULT_RECONCILE_REGEX = r"^(\+?1)?\d{10}$|^\+[2-9]\d{7,}$|^011\d*$|^00\d*$"

_PRETTY = "SS(###) ### - ####"
DEFAULT_CLASSIFIERS: dict[str, dict[str, Any]] = {
    "tollfree_us": {"regex": r"^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$",
                    "friendly_name": "US TollFree", "pretty_print": _PRETTY},
    "toll_us": {"regex": r"^\+1(900\d{7})$", "friendly_name": "US Toll", "pretty_print": _PRETTY},
    "emergency": {"regex": r"^(911|922|933|833|811|711|999)$",
                  "friendly_name": "Emergency Dispatcher", "emergency": True},
    "caribbean": {"regex": r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671"
                           r"|876|664|670|787|939|869|758|784|721|868|649|340)\d{7})$",
                  "friendly_name": "Caribbean", "pretty_print": _PRETTY},
    "did_us": {"regex": r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$", "friendly_name": "US DID",
               "pretty_print": _PRETTY},
    "international": {"regex": r"^\+([2-9]\d{7,})$", "friendly_name": "International"},
    "unknown": {"regex": r"^(.*)$", "friendly_name": "Unknown"},
}

# ITU dial codes of the countries a search may name (knm_iso3166a2_itu, the ones used).
DIALCODES = {"US": "+1", "CA": "+1", "GB": "+44", "FR": "+33", "DE": "+49", "ES": "+34",
             "IT": "+39", "NL": "+31", "BE": "+32", "AU": "+61", "MX": "+52", "BR": "+55"}
# US toll-free NPAs, as the default `tollfree_us` classifier lists them (88x narrowed to 888).
US_TOLLFREE_NPAS = frozenset({"800", "822", "833", "844", "855", "866", "877", "888"})

# What a stored number `_id` must look like: "+" then 4 to 15 digits (E.164 allows 15;
# five characters is the least a number database name can be built from).
E164 = re.compile(r"^\+\d{4,15}$")


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidNumber(pattern, f"{what} is not a valid regular expression: {exc}") from exc


@dataclass(frozen=True)
class NumberRules:
    """The number-handling part of `number_manager`, compiled once."""

    e164_converters: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: dict(DEFAULT_E164_CONVERTERS))
    reconcile_regex: str = DEFAULT_RECONCILE_REGEX
    classifiers: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_CLASSIFIERS))

    @classmethod
    def from_config(cls, number_manager: Mapping[str, Any]) -> "NumberRules":
        """Build from a resolved `number_manager` section; missing keys keep KAZOO's defaults."""
        kwargs: dict[str, Any] = {}
        for key in ("e164_converters", "reconcile_regex", "classifiers"):
            if number_manager.get(key):
                kwargs[key] = number_manager[key]
        return cls(**kwargs)

    def _converters(self) -> list[tuple[re.Pattern[str], Mapping[str, str]]]:
        return [(_compile(rx, "e164_converters"), opts or {})
                for rx, opts in self.e164_converters.items()]

    def normalize(self, number: Any) -> str:
        """`knm_converters:normalize/1`: a `+` number is kept, else the first converter wins."""
        if not isinstance(number, str) or not number.strip():
            raise InvalidNumber(number, "a phone number must be a non-empty string")
        num = number.strip()
        if num.startswith("+"):
            return num
        for rx, opts in self._converters():
            m = rx.match(num)
            if m:
                groups = [g for g in m.groups() if g]
                core = groups[-1] if groups else m.group(0)
                return f"{opts.get('prefix', '')}{core}{opts.get('suffix', '')}"
        return num

    def is_reconcilable(self, number: str) -> bool:
        return bool(_compile(self.reconcile_regex, "reconcile_regex").search(self.normalize(number)))

    def parse(self, number: Any) -> str:
        """Normalise and insist on a reconcilable E.164 number (what every operation needs)."""
        num = self.normalize(number)
        if not _compile(self.reconcile_regex, "reconcile_regex").search(num):
            raise NotReconcilable(num)
        if not E164.match(num):
            raise InvalidNumber(number, "not an E.164 number (+ then 4 to 15 digits)")
        return num

    def classify(self, number: str) -> str | None:
        """`knm_converters:classify/1`: the first classifier (document order) that matches."""
        num = self.normalize(number)
        for name, spec in self.classifiers.items():
            regex = spec if isinstance(spec, str) else (spec or {}).get("regex")
            if regex and _compile(regex, f"classifier {name}").search(num):
                return name
        return None


_NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def is_valid_for_country(number: str) -> bool:
    """Whether an E.164 number could be assigned in its country, as phonenumbers (Google's
    libphonenumber metadata) judges it. KAZOO's config-driven `reconcile_regex` and
    classifiers stay the judge of what KAZOO accepts; this is for numbers kzcarrier makes
    up (carrier simulators, generated ranges). A NANP area code phonenumbers does not know
    (the fictional 555) only needs NANP's structure: area code and exchange start 2-9."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return False
    if parsed.country_code == 1:
        if not _NANP.match(number) or number[5:7] == "11":   # N11 exchanges are services
            return False
        return phonenumbers.is_valid_number(parsed) or not _npa_known(number[2:5])
    return phonenumbers.is_valid_number(parsed)


@lru_cache(maxsize=1024)
def _npa_known(npa: str) -> bool:
    return any(phonenumbers.is_valid_number(phonenumbers.parse(f"+1{npa}{nxx}0000"))
               for nxx in ("200", "555", "730", "946"))


def to_npan(number: str) -> str:
    """`+14158867900` -> `4158867900` (NANP numbers only)."""
    return number[2:] if number.startswith("+1") else number.lstrip("+")


def to_1npan(number: str) -> str:
    return "1" + to_npan(number) if number.startswith("+1") else number.lstrip("+")


# --- database naming -------------------------------------------------------------------

NUMBERS_PREFIX = "numbers/"
ACCOUNT_ID = re.compile(r"^[0-9a-zA-Z]{32}$")


def number_db(number: str) -> str:
    """`knm_converters:to_db/1`: `numbers/` + the first 5 characters (the real db name)."""
    if not isinstance(number, str) or len(number) < 5:
        raise InvalidNumber(number, "too short to name a number database (needs 5 characters)")
    return NUMBERS_PREFIX + number[:5]


def encode_db(name: str) -> str:
    """KAZOO's encoded form (`numbers%2F%2B1415`), stored in `pvt_db_name`."""
    return quote(name, safe="")


def decode_db(name: str) -> str:
    """Accept `numbers%2F%2B1415`, `numbers%2f%2b1415` or `numbers/+1415`; return the raw name."""
    from urllib.parse import unquote
    return unquote(name)


def is_account_id(value: Any) -> bool:
    return isinstance(value, str) and bool(ACCOUNT_ID.match(value))


SERVICE_DB = "kzcarrier"   # kzcarrier's own database: journal, workers, pending repairs


def account_db(account_id: str) -> str:
    """`account/xx/yy/rest` from a 32-character account id."""
    if not is_account_id(account_id):
        raise InvalidNumber(account_id, "not a 32-character account id")
    return f"account/{account_id[:2]}/{account_id[2:4]}/{account_id[4:]}"


def account_id_of_db(name: str) -> str | None:
    raw = decode_db(name)
    if raw.startswith("account/"):
        parts = raw.split("/")
        if len(parts) == 4:
            return "".join(parts[1:])
    return None


def is_number_db(name: str) -> bool:
    return decode_db(name).startswith(NUMBERS_PREFIX)

"""Reading number documents by number: normalise, find the database, migrate on read.

The write side (bulk save with account copies) grows here with the lifecycle operations.
"""
from __future__ import annotations

from .couch import Couch
from .document import PhoneNumber
from .errors import NotFound
from .numbers import NumberRules, number_db


class NumberStore:
    def __init__(self, couch: Couch, rules: NumberRules,
                 available_module_name: str = "knm_local"):
        self.couch = couch
        self.rules = rules
        self.available_module_name = available_module_name

    def fetch(self, number: str) -> PhoneNumber:
        """The number's document, migrated to the 4.x/5.x shape in memory."""
        num = self.rules.parse(number)
        doc = self.couch.get(number_db(num), num, missing_ok=True)
        if doc is None:
            raise NotFound(num)
        return PhoneNumber.from_json(doc, self.available_module_name)

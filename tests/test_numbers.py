"""E.164 normalisation, reconciliation, classification and database naming (knm_converters)."""
import pytest

from kzcarrier.errors import InvalidNumber, NotReconcilable
from kzcarrier.numbers import (
    NumberRules,
    account_db,
    account_id_of_db,
    decode_db,
    encode_db,
    number_db,
    to_1npan,
    to_npan,
)

RULES = NumberRules()


@pytest.mark.parametrize("raw, e164", [
    ("4158867900", "+14158867900"),
    ("14158867900", "+14158867900"),
    ("+14158867900", "+14158867900"),
    ("011442079460000", "+442079460000"),
    ("00442079460000", "+442079460000"),
    ("4123456789", "+14123456789"),
    ("41234567", "+41234567"),          # the API doc's caveat: 8 digits become international
    ("1000", "1000"),                   # no converter matches: unchanged
    (" 4158867900 ", "+14158867900"),
])
def test_normalize_uses_kazoo_default_converters(raw, e164):
    assert RULES.normalize(raw) == e164


def test_converters_apply_in_document_order_and_are_configurable():
    rules = NumberRules.from_config({"e164_converters": {
        r"^0(\d{9})$": {"prefix": "+44"},
        r"^(\d{7})$": {"prefix": "+1415", "suffix": ""},
    }})
    assert rules.normalize("0207946000") == "+44207946000"
    assert rules.normalize("8867900") == "+14158867900"
    assert rules.normalize("4158867900") == "4158867900"  # KAZOO's defaults replaced


@pytest.mark.parametrize("num, ok", [
    ("+14158867900", True), ("4158867900", True), ("+442079460000", True),
    ("+1415886790", False), ("1000", False), ("+1234", False),
])
def test_reconcile_regex(num, ok):
    assert RULES.is_reconcilable(num) is ok


def test_parse_rejects_unreconcilable_and_non_numbers():
    assert RULES.parse("(415) 886-7900".replace("(", "").replace(")", "").replace(" ", "")
                       .replace("-", "")) == "+14158867900"
    with pytest.raises(NotReconcilable) as exc:
        RULES.parse("1000")
    assert exc.value.to_json() == {"code": 404, "error": "not_reconcilable",
                                   "message": "number 1000 is not reconcilable", "cause": "1000"}
    for bad in ("", None, 42, "   "):
        with pytest.raises(InvalidNumber):
            RULES.parse(bad)
    with pytest.raises(NotReconcilable):
        RULES.parse("+1415abc7900x")  # "+" numbers pass normalisation untouched
    with pytest.raises(InvalidNumber, match="E.164"):
        RULES.parse("011")  # reconcilable by KAZOO's regex, but no E.164 number


@pytest.mark.parametrize("num, cls", [
    ("+18005551212", "tollfree_us"), ("+18885551212", "tollfree_us"),
    ("+19005551212", "toll_us"), ("911", "emergency"), ("+18765551212", "caribbean"),
    ("+14158867900", "did_us"), ("+442079460000", "international"), ("1000", "unknown"),
])
def test_classifiers_kazoo_defaults(num, cls):
    assert RULES.classify(num) == cls


def test_legacy_bare_regex_classifier_and_first_match_wins():
    rules = NumberRules.from_config({"classifiers": {"sf": r"^\+1415", "did_us": r"^\+1"}})
    assert rules.classify("+14158867900") == "sf"
    assert rules.classify("+12125551212") == "did_us"
    assert rules.classify("+442079460000") is None


# The table of reference/kazoo-number-docs.md §2.1.
@pytest.mark.parametrize("num, raw, encoded", [
    ("+14158867900", "numbers/+1415", "numbers%2F%2B1415"),
    ("+15551233322", "numbers/+1555", "numbers%2F%2B1555"),
    ("+18005551212", "numbers/+1800", "numbers%2F%2B1800"),
    ("+442079460000", "numbers/+4420", "numbers%2F%2B4420"),
    ("+33123456789", "numbers/+3312", "numbers%2F%2B3312"),
    ("+8835100000001", "numbers/+8835", "numbers%2F%2B8835"),
    ("14158867900", "numbers/14158", "numbers%2F14158"),
])
def test_number_db_naming(num, raw, encoded):
    assert number_db(num) == raw
    assert encode_db(raw) == encoded
    assert decode_db(encoded) == raw
    assert decode_db(encoded.lower()) == raw


@pytest.mark.parametrize("short", ["1234", "+123", "", None])
def test_too_short_numbers_have_no_database(short):
    with pytest.raises(InvalidNumber, match="too short"):
        number_db(short)


def test_account_db_naming():
    acct = "0123456789abcdef0123456789abcdef"
    assert account_db(acct) == "account/01/23/456789abcdef0123456789abcdef"
    assert encode_db(account_db(acct)) == "account%2F01%2F23%2F456789abcdef0123456789abcdef"
    assert account_id_of_db("account%2F01%2F23%2F456789abcdef0123456789abcdef") == acct
    with pytest.raises(InvalidNumber):
        account_db("not-an-account")


def test_npan_helpers():
    assert to_npan("+14158867900") == "4158867900"
    assert to_1npan("+14158867900") == "14158867900"

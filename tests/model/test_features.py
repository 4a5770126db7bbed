"""KAZOO's feature permission rules (reference/kazoo-feature-providers.md §2), pure."""
from kzcarrier.model import features as F


def perms(**kw):
    base = dict(number_allowed=[], number_denied=[], reseller_allowed=None,
                reseller_denied=None, system_allowed=list(F.ALL))
    return F.Permissions(**{**base, **kw})


def test_kazoo_examples_with_no_configuration():
    # a local number in service, used by callflows, an account admin asking
    assert F.available_features(perms(), True, True, "callflow") == [
        "force_outbound", "prepend", "ringback"]
    assert F.available_features(perms(), True, True, "trunkstore") == [
        "failover", "force_outbound", "prepend", "ringback"]
    # a carrier's number, a super-duper admin: everything but failover (not trunkstore)
    assert F.available_features(perms(is_admin=True), True, False, "callflow") == [
        "carrier_name", "cnam", "e911", "force_outbound", "inbound_cnam", "mms",
        "outbound_cnam", "port", "prepend", "ringback", "sms"]
    # unassigned: KAZOO features minus failover, carrier_name for admins only
    assert F.available_features(perms(), False, False, None) == [
        "force_outbound", "prepend", "ringback"]
    assert "carrier_name" in F.available_features(perms(is_admin=True), False, False, None)


def test_lists_and_overrides():
    # the number's own lists win; its deny list replaces every other rule
    assert F.available_features(perms(number_allowed=["e911", "prepend"],
                                      number_denied=["prepend"]), True, True, None) == ["e911"]
    # a reseller's deny list, even empty, replaces the local-number rule
    assert "e911" in F.available_features(perms(reseller_denied=[]), True, True, "callflow")
    assert "e911" not in F.available_features(perms(reseller_denied=["wnm_dash_e911"]),
                                              True, False, "callflow")
    # local_feature_override lets local numbers have external features
    assert "cnam" in F.available_features(perms(local_feature_override=True), True, True, None)
    # the reseller's allow list is used for assigned numbers only
    assert F.available_features(perms(reseller_allowed=["prepend"]), True, False, None) == [
        "prepend"]


def test_requests_and_legacy_names():
    assert F.cleanse(["wnm_dash_e911", "knm_cnam_notifier", "prepend", "prepend"]) == [
        "cnam", "e911", "prepend"]
    assert F.requested_features({"e911": {}, "label": "x", "local": True},
                                {"local": {}, "im": {}, "inbound_cnam": {}}) == [
        "e911", "inbound_cnam"]
    # sms/mms never fail a save; anything else not available does
    assert F.denied_requests(["sms", "e911", "prepend"], ["prepend"]) == ["e911"]
    assert F.provider_module("outbound_cnam", "knm_telnyx_cnam", "x") == "knm_telnyx_cnam"
    assert F.provider_module("ringback", "c", "e") == "ringback"     # no module: skipped

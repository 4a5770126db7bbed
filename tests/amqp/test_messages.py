"""KAZOO's routing keys and doc_update bodies (reference/kazoo-amqp-doc-updates.md §3-4)."""
from kzcarrier.amqp.messages import doc_update, encode_id, routing_key


def test_ids_and_routing_keys_are_encoded_as_kazoo_does():
    assert encode_id("+14155551234") == "%2B14155551234"
    assert encode_id("a b.c") == "a+b%2Ec"
    assert encode_id("*") == "*"
    assert routing_key("doc_edited", "numbers/+1415", "number", "+14155551234") == \
        "doc_edited.numbers%2F%2B1415.number.%2B14155551234"
    assert routing_key("doc_deleted", "account/4f/e6/9c5b61015084f1fe5684abc6e502",
                       "number", "+1415") == \
        "doc_deleted.account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502.number.%2B1415"


def test_the_body_carries_kazoos_fields():
    key, body = doc_update("doc_edited", "numbers/+1415",
                           {"pvt_type": "number", "pvt_created": 1, "pvt_modified": 2},
                           "+14155551234", "7-abc", node="kzcarrier@test")
    assert key == "doc_edited.numbers%2F%2B1415.number.%2B14155551234"
    assert {k: body[k] for k in ("Event-Category", "Event-Name", "ID", "Database", "Type",
                                 "Rev", "App-Name", "Node", "Is-Soft-Deleted")} == {
        "Event-Category": "configuration", "Event-Name": "doc_edited", "ID": "+14155551234",
        "Database": "numbers%2F%2B1415", "Type": "number", "Rev": "7-abc",
        "App-Name": "kzcarrier", "Node": "kzcarrier@test", "Is-Soft-Deleted": False}
    assert len(body["Msg-ID"]) == 32 and body["App-Version"]
    # KAZOO swaps the dates; kept for listeners that read them
    assert (body["Date-Created"], body["Date-Modified"]) == (2, 1)
    assert "Account-ID" not in body          # number databases name no account
    # a deletion without pvt_type in a numbers database is still a number
    key, body = doc_update("doc_deleted", "numbers/+1415", {"_deleted": True}, "+1415", "8-x")
    assert key.startswith("doc_deleted.numbers%2F%2B1415.number.") and body["Type"] == "number"
    _, body = doc_update("doc_edited", "account/ac/co/unt0000000000000000000000003", {},
                         "+1", "1-a")
    assert body["Account-ID"] == "account0000000000000000000000003"

"""A corpus of malformed documents and requests: each ends `failed` with a clear KAZOO-shaped
error, nothing else in it changes, and the good requests around them are processed."""

from engine_helpers import CHILD, MASTER, run_once

ACCT = CHILD
A = "+14155550"  # prefix of the numbers below (numbers/+1415)

CORPUS = [
    # (id, document fields besides _id, what the error must mention)
    ("unknown operation", {"pvt_request": {"id": "r", "operation": "buy"}}, "operation"),
    ("no request id", {"pvt_request": {"operation": "move"}}, "id"),
    ("empty request id", {"pvt_request": {"id": "", "operation": "move"}}, "id"),
    ("numeric request id", {"pvt_request": {"id": 42, "operation": "move"}}, "id"),
    ("request is a string", {"pvt_request": "move it"}, "pvt_request"),
    ("request is a list", {"pvt_request": ["move"]}, "id"),
    ("no operation", {"pvt_request": {"id": "r"}}, "operation"),
    ("options not an object", {"pvt_request": {"id": "r", "operation": "move",
                                               "options": "fast"}}, "options"),
    ("unknown option", {"pvt_request": {"id": "r", "operation": "move",
                                        "options": {"colour": "red"}}}, "colour"),
    ("bad assign_to", {"pvt_request": {"id": "r", "operation": "move",
                                       "options": {"assign_to": "acct"}}}, "assign_to"),
    ("bad auth_by", {"pvt_request": {"id": "r", "operation": "move",
                                     "options": {"auth_by": "root"}}}, "auth_by"),
    ("dry_run not boolean", {"pvt_request": {"id": "r", "operation": "move",
                                             "options": {"dry_run": "yes"}}}, "dry_run"),
    ("bad target state", {"pvt_request": {"id": "r", "operation": "transition",
                                          "options": {"state": "sold"}}}, "state"),
    ("transition without state", {"pvt_request": {"id": "r", "operation": "transition"}},
     "options.state"),
    ("deleted is no target", {"pvt_request": {"id": "r", "operation": "transition",
                                              "options": {"state": "deleted"}}}, "state"),
    ("unknown carrier", {"pvt_request": {"id": "r", "operation": "create",
                                         "options": {"module_name": "knm_nope",
                                                     "assign_to": ACCT}}}, "knm_nope"),
    ("carrier name with odd characters", {"pvt_request": {
        "id": "r", "operation": "create", "options": {"module_name": "Knm Local!"}}},
     "module_name"),
    ("public_fields not an object", {"pvt_request": {
        "id": "r", "operation": "update", "options": {"public_fields": [1]}}},
     "public_fields"),
    ("used_by not a string", {"pvt_request": {"id": "r", "operation": "assign_to_app",
                                              "options": {"used_by": 7}}}, "used_by"),
    ("extra request field", {"pvt_request": {"id": "r", "operation": "move",
                                             "priority": 1}}, "priority"),
    ("invalid pvt_state", {"pvt_state": "sold", "pvt_request": {
        "id": "r", "operation": "release"}}, "pvt_state"),
    ("history not a list", {"pvt_state": "in_service", "pvt_reserve_history": "acct",
                            "pvt_request": {"id": "r", "operation": "release"}},
     "pvt_reserve_history"),
    ("features a string", {"pvt_state": "in_service", "pvt_features": "cnam",
                           "pvt_request": {"id": "r", "operation": "release"}}, "pvt_features"),
    ("bad owner", {"pvt_state": "in_service", "pvt_assigned_to": "me",
                   "pvt_request": {"id": "r", "operation": "release"}}, "pvt_assigned_to"),
    ("carrier data a string", {"pvt_state": "available", "pvt_carrier_data": "x",
                               "pvt_request": {"id": "r", "operation": "reserve"}},
     "pvt_carrier_data"),
    ("move without assign_to", {"pvt_state": "available", "pvt_module_name": "knm_local",
                                "pvt_request": {"id": "r", "operation": "move"}},
     "assign_failure"),
    ("reserve without assign_to", {"pvt_state": "available", "pvt_module_name": "knm_local",
                                   "pvt_request": {"id": "r", "operation": "reserve"}},
     "assign_failure"),
    ("release of a number that does not exist", {"pvt_request": {
        "id": "r", "operation": "release"}}, "not_found"),
    ("move of a number that does not exist", {"pvt_request": {
        "id": "r", "operation": "move", "options": {"assign_to": ACCT}}}, "not_found"),
    ("create without assign_to", {"pvt_request": {"id": "r", "operation": "create"}},
     "field_undefined"),
    ("delete by a non-admin", {"pvt_state": "available", "pvt_module_name": "knm_local",
                               "pvt_request": {"id": "r", "operation": "delete",
                                               "options": {"auth_by": CHILD}}}, "forbidden"),
    ("release of an available non-local number", {
        "pvt_state": "available", "pvt_module_name": "knm_telnyx",
        "pvt_request": {"id": "r", "operation": "release"}}, "from available to available"),
]
MISFILED = [
    # documents in the wrong place or with a wrong id, all in numbers/+1415
    ("4155550190", "is not the E.164 number"),
    ("+1415abc0000", "not reconcilable"),
    ("+12125550190", "belongs in numbers/+1212"),
    ("1000", "not reconcilable"),
]


def test_malformed_corpus_fails_clearly_and_good_requests_go_through(loaded):
    c = loaded.couch
    c.ensure_db("numbers/+1415")
    written = {}
    for i, (name, fields, _) in enumerate(CORPUS):
        num = f"{A}{i:03d}"
        doc = {"_id": num, **fields, "note": name}
        c.put("numbers/+1415", doc)
        written[num] = doc
    for doc_id, _ in MISFILED:
        doc = {"_id": doc_id, "pvt_request": {"id": "r", "operation": "create",
                                              "options": {"assign_to": ACCT}}}
        c.put("numbers/+1415", doc)
        written[doc_id] = doc
    good = {f"{A}9{i:02d}": {"_id": f"{A}9{i:02d}", "pvt_request": {
        "id": f"g{i}", "operation": "create",
        "options": {"assign_to": ACCT, "auth_by": MASTER}}} for i in range(5)}
    for doc in good.values():
        c.put("numbers/+1415", doc)

    run_once(c, loaded.config)

    assert len(CORPUS) + len(MISFILED) >= 30
    expected = {f"{A}{i:03d}": word for i, (_, _, word) in enumerate(CORPUS)}
    expected.update(dict(MISFILED))
    for num, doc in written.items():
        stored = c.get("numbers/+1415", num)
        st = stored.pop("pvt_request_state")
        assert st["status"] == "failed", (num, doc.get("note"), st)
        err = st["error"]
        assert isinstance(err["code"], int) and err["error"] and err["message"], err
        text = f"{err['error']} {err['message']} {err.get('cause', '')}"
        assert expected[num] in text, (doc.get("note"), err)
        stored.pop("_rev")
        assert stored == doc, doc.get("note")          # nothing else changed
    for num in good:
        stored = c.get("numbers/+1415", num)
        assert stored["pvt_request_state"]["status"] == "completed"
        assert stored["pvt_state"] == "in_service"

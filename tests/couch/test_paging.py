"""Views and `_all_docs` read in pages by key: every row once, whatever the page size."""
from kzcarrier.couch.paging import iter_all_docs, iter_view

DB = "numbers/+1415"


def test_the_request_index_pages_without_losing_or_repeating_a_row(couch):
    couch.create_db(DB)
    docs = [{"_id": f"+1415555{i:04d}", "pvt_request": {"id": f"r{i}", "operation": "move"}}
            for i in range(20)]
    # the same key for many rows (pending, 0): the id in the key keeps them apart
    couch.bulk_save(DB, docs)
    for page in (1, 7, 20, 1000):
        rows = list(iter_view(couch, DB, "kzcarrier", "requests", page=page))
        assert sorted(r["id"] for r in rows) == sorted(d["_id"] for d in docs), page
        assert all(r["doc"]["_id"] == r["id"] for r in rows)


def test_all_docs_by_pages_leaves_design_documents_out(couch):
    couch.create_db(DB)
    couch.bulk_save(DB, [{"_id": f"+1415555{i:04d}"} for i in range(11)])
    ids = [d["_id"] for d in iter_all_docs(couch, DB, page=4)]
    assert ids == [f"+1415555{i:04d}" for i in range(11)]
    assert [d["_id"] for d in iter_all_docs(couch, DB, start_key="+14155550005",
                                            end_key="+14155550007", page=2)] == \
        ["+14155550005", "+14155550006", "+14155550007"]

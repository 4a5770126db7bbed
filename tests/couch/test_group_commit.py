"""Group commit: concurrent writers share `_bulk_docs` requests, each keeps its own result."""
import threading
import time

from engine_helpers import count_bulk_requests

from kzcarrier.couch.group_commit import GroupCommit
from kzcarrier.errors import DocConflict

DB = "numbers/+1415"


def test_concurrent_writers_share_requests_and_keep_their_own_results(couch, monkeypatch):
    couch.create_db(DB)
    stale = {f"+1415555{i:04d}": couch.put(DB, {"_id": f"+1415555{i:04d}"}) for i in range(10)}
    for num in stale:  # moved on since: writing at the old rev must conflict
        couch.put(DB, {"_id": num, "_rev": stale[num], "edited": True})
    sent = count_bulk_requests(couch, monkeypatch)
    start = threading.Barrier(50)
    outcome = {}

    def write(i):
        num = f"+1415555{i:04d}"
        start.wait()
        try:
            if num in stale:
                outcome[num] = couch.put(DB, {"_id": num, "_rev": stale[num], "lost": True})
            else:
                outcome[num] = couch.put(DB, {"_id": num, "writer": i})
        except DocConflict:
            outcome[num] = "conflict"

    threads = [threading.Thread(target=write, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sizes = [n for _, n in sent]
    assert sum(sizes) == 50 and len(sizes) < 25      # shared, every document sent once
    assert [outcome[n] for n in stale] == ["conflict"] * 10
    for i in range(10, 50):
        num = f"+1415555{i:04d}"
        doc = couch.get(DB, num)
        assert (doc["_rev"], doc["writer"]) == (outcome[num], i)   # its own rev back
    assert all("lost" not in couch.get(DB, n) for n in stale)


class HeldFirstRequest:
    """A `send` that holds the first request until released, then answers every request
    (or, with `fail`, answers the first and fails the others). Records what each carried."""

    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.sent: list[list[str]] = []
        self.in_flight, self.release = threading.Event(), threading.Event()

    def __call__(self, docs):
        self.sent.append([d["_id"] for d in docs])
        if len(self.sent) == 1:
            self.in_flight.set()
            self.release.wait(5)
        elif self.fail is not None:
            raise self.fail
        return [{"id": d["_id"], "rev": "1-a"} for d in docs]


def test_a_failed_request_reaches_every_writer_in_it_and_leadership_moves_on():
    group = GroupCommit(max_docs=2)
    send = HeldFirstRequest(fail=ConnectionError("server went away"))
    first = {}
    leader = threading.Thread(target=lambda: first.update(r=group.save("db", [{"_id": "a"}],
                                                                      send)))
    leader.start()
    assert send.in_flight.wait(5)
    errors = []

    def follower(name):
        try:
            group.save("db", [{"_id": name}], send)
        except ConnectionError as exc:
            errors.append((name, str(exc)))

    followers = [threading.Thread(target=follower, args=(n,)) for n in ("b", "c", "d")]
    for t in followers:
        t.start()
    deadline = time.monotonic() + 5
    while len(group._queues["db"].waiting) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    send.release.set()
    leader.join(5)
    for t in followers:
        t.join(5)
    assert first["r"] == [{"id": "a", "rev": "1-a"}]      # the leader got its own answer
    assert send.sent == [["a"], ["b", "c"], ["d"]]    # the followers went together, 2 at most
    assert sorted(errors) == [(n, "server went away") for n in ("b", "c", "d")]
    # nothing is left waiting and the next writer sends at once
    assert group.save("db", [{"_id": "e"}], lambda docs: [{"id": "e", "rev": "1-e"}]) == [
        {"id": "e", "rev": "1-e"}]


def test_one_request_never_carries_the_same_document_twice():
    group = GroupCommit()
    send = HeldFirstRequest()
    first = threading.Thread(target=group.save, args=("db", [{"_id": "x"}], send))
    first.start()
    assert send.in_flight.wait(5)
    writers = [threading.Thread(target=group.save, args=("db", [{"_id": i}], send))
               for i in ("a", "b", "a")]
    for t in writers:
        t.start()
        time.sleep(0.05)  # in this order
    send.release.set()
    for t in [first, *writers]:
        t.join(5)
    assert send.sent == [["x"], ["a", "b"], ["a"]]

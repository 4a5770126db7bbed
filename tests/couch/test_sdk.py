"""Each thread's SDK client (kzcarrier/couch/sdk.py) against a server that closes a
keep-alive connection just as a request is sent on it (pouchdb-server closes one idle for
5 s, the watcher's heartbeat interval): a read is sent again on a new connection, a write
never is."""
import json
import socketserver
import threading

import pytest
import requests

from kzcarrier.couch.sdk import configured, for_this_thread

ANSWERS = {"/": {"couchdb": "Welcome", "version": "3.3.3"},
           "/numbers%2F%2B1415/_all_docs": {"total_rows": 0, "offset": 0, "rows": []}}


class ClosesOnSecondRequest(socketserver.BaseRequestHandler):
    """Answers the first request of each connection and keeps it open; when a second
    request comes on it, closes it unanswered."""

    def handle(self) -> None:
        buf, served = b"", 0
        while True:
            while b"\r\n\r\n" not in buf:
                data = self.request.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                           if line.lower().startswith("content-length:")), 0)
            while len(buf) < length:
                buf += self.request.recv(65536)
            buf = buf[length:]
            method, path = lines[0].split(" ")[:2]
            self.server.seen.append((method, path.split("?")[0]))
            if served:
                return          # closed, unanswered
            if path == "/slow":
                self.server.release.wait(10)        # no answer before the client gives up
                return
            served += 1
            body = json.dumps(ANSWERS[path.split("?")[0]]).encode()
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Connection: keep-alive\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def closing_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ClosesOnSecondRequest)
    server.daemon_threads = True
    server.seen = []
    server.release = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_a_read_is_sent_again_on_a_new_connection_and_a_write_is_not(closing_server):
    base = f"http://127.0.0.1:{closing_server.server_address[1]}"
    client = for_this_thread(configured(base, None, None, 10.0), base)
    assert client.get_server_information().get_result()["couchdb"] == "Welcome"
    # the same connection again: closed unanswered, sent again on a new one
    assert client.get_server_information().get_result()["couchdb"] == "Welcome"
    assert closing_server.seen == [("GET", "/")] * 3
    # a POST on that (second) connection: closed unanswered, and not sent again
    with pytest.raises(requests.exceptions.ConnectionError):
        client.post_all_docs(db="numbers/+1415")
    assert closing_server.seen[3:] == [("POST", "/numbers%2F%2B1415/_all_docs")]


def test_a_read_that_timed_out_is_not_sent_again(closing_server):
    """The server is slow, not gone: waiting again would double the wait."""
    base = f"http://127.0.0.1:{closing_server.server_address[1]}"
    client = for_this_thread(configured(base, None, None, 0.5), base)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.send(client.prepare_request(method="GET", url="/slow",
                                           headers={"Accept": "application/json"}))
    assert closing_server.seen == [("GET", "/slow")]

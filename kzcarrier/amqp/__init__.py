"""Announcing document changes the way KAZOO does (`kzs_publish` → `kapi_conf` doc updates
on the `configuration` exchange), so a running KAZOO cluster flushes its caches when
kzcarrier writes a number (reference/kazoo-amqp-doc-updates.md).

`messages.py` builds the routing key and body (pure); `outbox.py` records every document
kzcarrier writes in an outbox in CouchDB, after the write succeeded; `publisher.py` drains
the outbox to the broker, keeping what it could not send, so a broker outage loses no
announcement and never blocks or fails a request.
"""

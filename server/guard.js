// Loaded before pouchdb-server (node -r): pouchdb-server 4.2.0 throws from inside its
// storage callbacks when a document's sibling revisions are written and read at the same
// moment (pouchdb-core processChange: "Cannot read properties of undefined (reading
// '_rev')"), which would end the whole process. CouchDB has no such failure. The request
// in flight is lost (its client times out and retries, as after any lost answer); the
// server goes on serving. Every such event is logged to the server's stdout.txt.
process.on('uncaughtException', function (err) {
  console.error('kzcarrier guard: pouchdb-server threw, kept running:', err && err.stack);
});

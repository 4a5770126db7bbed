"""The only code that talks to CouchDB: the client, the seam for the test server's
differences, group commit of concurrent writes, and the embedded development server.
"""

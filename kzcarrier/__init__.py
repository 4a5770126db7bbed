"""kzcarrier: KAZOO's number manager rebuilt in Python, CouchDB-native.

The layers, lowest first (imports only point down): `errors`, `numbers` and `json_copy`;
`couch/`; `model/`; `carriers/`; `ops/`; `search`; `engine/`; `sync/`, `simulators/`;
`app`, `demo`; `cli/`.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kzcarrier")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

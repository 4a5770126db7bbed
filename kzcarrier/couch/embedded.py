"""The embedded CouchDB-compatible server: pouchdb-server 4.2.0 from the repo's server/.

For development, demos and the test suite only; production points kzcarrier at a real
Apache CouchDB 3.x. The server is installed by `npm ci` in server/ (scripts/setup) and runs
on a free loopback port, with its data under a folder of ours (or in memory). It is started
with `--unhandled-rejections=warn`, and `server/guard.js` preloaded, so that a request that
would crash it (an unhandled rejection, or an exception thrown from pouchdb's storage
callbacks while sibling revisions are written and read at once) cannot take it down: that
request's answer is lost, the server goes on. `server/dbnames.js`, preloaded too, finds a
request's database in a set of names instead of listing every database per request, so a
request costs the same with 100 databases as with 10,000, as on CouchDB. Two more answer
what express-pouchdb does not: `server/dbupdates.js` (`_db_updates`) and
`server/dbsinfo.js` (`POST /_dbs_info`); design_docs/storage.md.

Where it is looked for: `server_dir` when given (`kzcarrier up --server-dir`, env
KZCARRIER_SERVER_DIR), else the source tree's `server/`. A wheel install has no source tree:
`EmbeddedServerMissing` then says how to install it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from ..errors import KzError

SERVER_DIR = Path(__file__).resolve().parents[2] / "server"
PINNED = "pouchdb-server@4.2.0"
# loaded into the server before it starts (see above)
PRELOADS = ("guard.js", "dbnames.js", "dbupdates.js", "dbsinfo.js")


class EmbeddedServerMissing(KzError):
    code, error = 500, "embedded_server_missing"

    def __init__(self, where: Path, node: bool):
        how = (f"install it with `npm install --prefix DIR {PINNED}` and pass "
               "--server-dir DIR (or set KZCARRIER_SERVER_DIR); from a source checkout, "
               "scripts/setup installs it into server/") if node else \
            "install Node.js (it runs pouchdb-server), then `npm install --prefix DIR " \
            f"{PINNED}` and pass --server-dir DIR"
        super().__init__(f"the embedded CouchDB-compatible server is not installed in {where}: "
                         f"{how}. Or run against a real CouchDB: `kzcarrier --couch-url URL "
                         "init` then `kzcarrier --couch-url URL watch`.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    def __init__(self, run_dir: Path, port: int | None = None, in_memory: bool = False,
                 server_dir: Path | None = None):
        self.run_dir = Path(run_dir)
        self.port = port or free_port()
        self.in_memory = in_memory
        self.server_dir = Path(server_dir) if server_dir else SERVER_DIR
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = self.server_dir / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
        if not binary.exists() or shutil.which("node") is None:
            raise EmbeddedServerMissing(self.server_dir, shutil.which("node") is not None)
        data = ["-m"] if self.in_memory else ["-d", str(self.run_dir / "data")]
        preload = [arg for name in PRELOADS if (self.server_dir / name).exists()
                   for arg in ("-r", str(self.server_dir / name))]
        return ["node", "--unhandled-rejections=warn", *preload, str(binary),
                "-p", str(self.port), "-o", "127.0.0.1", "-n",
                "-c", str(self.run_dir / "config.json"), *data]

    def start(self, wait: float = 30.0) -> "EmbeddedServer":
        (self.run_dir / "data").mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "config.json"
        if not config.exists():
            config.write_text(json.dumps({"log": {"file": str(self.run_dir / "log.txt"),
                                                  "level": "warning"}}))
        with open(self.run_dir / "stdout.txt", "ab") as log:
            self.process = subprocess.Popen(self.command(), cwd=self.run_dir, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pouchdb-server exited at start; see {self.run_dir}/stdout.txt")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"pouchdb-server did not answer on {self.url} within {wait:.0f}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def url_or_embedded(url: str | None) -> Iterator[str]:
    """`url` (a CouchDB the caller names), or a throwaway in-memory embedded server's for
    as long as the block runs (the benchmarks)."""
    if url:
        yield url
        return
    with EmbeddedServer(Path(tempfile.mkdtemp()), in_memory=True) as server:
        yield server.url

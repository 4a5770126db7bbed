"""A wheel install (`pip install .`, no source tree) runs every command; `kzcarrier up`
without the embedded server's files says what to do."""
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import kzcarrier

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel of this tree in it (its
    dependencies come from the test environment's site-packages, read through a .pth:
    the registry is not needed, and the source tree is not on the path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp)
    wheel = next((tmp / "dist").glob("kzcarrier-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    return venv


def kz(venv: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "kzcarrier"), *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd or venv)


def test_the_wheel_carries_every_command_and_its_resources(installed, couch_url):
    version = kz(installed, "--version")
    assert version.returncode == 0 and kzcarrier.__version__ in version.stdout
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import kzcarrier; print(kzcarrier.__file__)"],
                           capture_output=True, text=True, cwd=installed).stdout
    assert str(installed) in where and str(ROOT) not in where     # not the source tree
    top = kz(installed, "--help").stdout
    commands = [line.split()[0] for line in top.split("Commands:")[1].splitlines()
                if line.strip()]
    assert {"watch", "up", "number", "sync", "search", "status"} <= set(commands)
    for command in commands:
        shown = kz(installed, command, "--help")
        assert shown.returncode == 0, (command, shown.stderr)
    init = kz(installed, "--couch-url", couch_url, "init", "--json")   # schemas, design docs
    assert init.returncode == 0, init.stderr
    made = kz(installed, "--couch-url", couch_url, "number", "create", "+12125550142",
              "--assign-to", "4d6f7c2e1b0a49d8a1f3c5e7b9d0a2c4", "--json")
    assert made.returncode == 0, made.stderr


def test_up_without_the_embedded_server_says_what_to_do(installed, tmp_path):
    out = kz(installed, "up", "--data", str(tmp_path / "data"), "--no-demo", cwd=tmp_path)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "pouchdb-server@4.2.0" in lines[0] and "--server-dir" in lines[0]
    assert "Traceback" not in out.stderr

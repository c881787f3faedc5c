"""The README's first command, `python -m deploy.local`, on a unit list of its user's own: it
imports the file as a job, gives the demo token to the first unit the registry lists when
Hai Phong's demo unit is not in the file, prints the tokens, and stops every process on
SIGTERM. It takes the
services' fixed ports (8001-8004, mail 1025), so it runs on one leg."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy.brokers import free_port
from tests.rig import alive, children_of, on_legs

pytestmark = [
    *on_legs("tansu:sqlite", why="the launcher runs the embedded broker and SQLite: one leg"),
]

UNITS = "kind,name\ncommune,Xã Đảo Thử\nward,Phường Bến Thử\nspecial_zone,Đặc khu Thử\n"


def test_the_launcher_takes_a_unit_list_without_the_demo_unit(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    out = (tmp_path / "launcher.out").open("w+")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.local", "--data", str(tmp_path / "data"),
         "--units", str(units), "--kafka-port", str(free_port())],
        stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        while "demo unit token" not in (printed := Path(out.name).read_text()):
            assert launcher.poll() is None, printed
            assert time.monotonic() < deadline, printed
            time.sleep(0.5)
        assert "units loaded: 3 created, 0 updated, 0 unchanged" in printed
        line = next(line for line in printed.splitlines() if "demo unit token" in line)
        token = line.split()[3]
        assert line.endswith("(unit xa-dao-thu)")  # by kind, then code: the commune
        me = httpx.get("http://127.0.0.1:8001/v1/units/xa-dao-thu",
                       headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["contacts"]["email"] == "xa-dao-thu@haiphong.gov.vn"
        started = children_of(launcher.pid)
        assert len(started) >= 6  # the broker, the mail sink and the four services
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=60)
        out.close()
    assert code == 0
    time.sleep(1)
    assert [pid for pid in started if alive(pid)] == []

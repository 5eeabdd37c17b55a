"""Members, whoami and the audit trail through the CLI; tampering is reported by `eml audit verify`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest


def _init(run_cli: Any, tmp_path: Path) -> Path:
    code, _, err = run_cli(["init", str(tmp_path / "p"), "--member", "alice"])
    assert code == 0, err
    return tmp_path / "p"


def test_members_and_whoami(run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _init(run_cli, tmp_path)
    assert run_cli(["members", "add", "bob", "--persona", "business-leader"], cwd=root)[0] == 0
    code, _, err = run_cli(["members", "add", "carl", "--persona", "wizard"], cwd=root)
    assert code == 2 and "unknown persona" in err
    code, out, _ = run_cli(["members", "ls", "--json"], cwd=root)
    members = {m["name"]: m for m in json.loads(out)}
    assert members["bob"]["persona"] == "business-leader" and "set-requirements" in members["bob"]["permissions"]
    monkeypatch.setenv("EML_MEMBER", "bob")
    code, out, _ = run_cli(["whoami", "--json"], cwd=root)
    assert json.loads(out)["name"] == "bob"
    code, _, err = run_cli(["members", "add", "dan", "--persona", "end-user"], cwd=root)
    assert code == 6 and "may not manage members" in err
    monkeypatch.delenv("EML_MEMBER")
    assert run_cli(["members", "rm", "bob"], cwd=root)[0] == 0
    code, _, err = run_cli(["members", "rm", "alice"], cwd=root)
    assert code == 4 and "only owner" in err
    code, out, _ = run_cli(["audit", "log", "--json", "--action", "member"], cwd=root)
    assert [e["action"] for e in json.loads(out)] == ["member.add", "member.remove"]


def test_audit_verify_names_the_tampered_entry(run_cli: Any, tmp_path: Path) -> None:
    root = _init(run_cli, tmp_path)
    for args in (["requirements", "set", "min_accuracy=0.8"], ["requirements", "set", "max_ram=64k"],
                 ["members", "add", "bob", "--persona", "end-user"]):
        assert run_cli(args, cwd=root)[0] == 0
    code, out, _ = run_cli(["audit", "verify", "--json"], cwd=root)
    r = json.loads(out)
    assert code == 0 and (r["ok"], r["entries"], r["problems"]) == (True, 4, [])
    assert r["checkpoints"] == 4 and r["last_good_checkpoint"]["seq"] == 4
    con = sqlite3.connect(root / ".eml" / "metadata.db")
    (arts,) = con.execute("SELECT artifacts FROM audit_log WHERE seq = 3").fetchone()
    forged = json.loads(arts)
    forged["kpis"]["max_ram_bytes"] = 1048576  # someone quietly loosens the RAM budget in the log
    con.execute("UPDATE audit_log SET artifacts = ? WHERE seq = 3", (json.dumps(forged),))
    con.commit()
    con.close()
    code, _, err = run_cli(["audit", "verify"], cwd=root)
    assert code == 8 and "entry 3" in err and "edited" in err
    code, out, _ = run_cli(["audit", "verify", "--json"], cwd=root)
    assert code == 8 and json.loads(out)["problems"][0]["seq"] == 3

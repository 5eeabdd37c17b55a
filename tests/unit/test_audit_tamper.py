"""Audit tamper matrix: every way of editing the trail is caught by the chain or the signed checkpoints.

Each case edits the database (and/or the checkpoint file) the way someone with file access would, including
recomputing every hash with the public digest function, then ``verify`` must report it (and name the entry).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crisp_eml.store import audit as chain
from crisp_eml.store import audit_checkpoints as cps
from crisp_eml.store.project import Project
from crisp_eml.workspace.audit import head_checkpoint, verify

N_EXTRA = 40  # entries appended after init, so "the last 30" and "the middle" exist


def _project(tmp_path: Path) -> Project:
    project = Project.init(tmp_path / "p", "tamper", member="alice")
    for i in range(N_EXTRA):
        with project.session() as s:
            project.record(s, "test.event", {"i": i})
    return project


def _db(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / ".eml" / "metadata.db")


Row = dict[str, Any]
COLS = ("seq", "at", "actor", "persona", "action", "artifacts", "prev_hash", "entry_hash", "note")


def _rows(con: sqlite3.Connection) -> list[Row]:
    out = []
    for r in con.execute(f"SELECT {', '.join(COLS)} FROM audit_log ORDER BY seq"):
        row = dict(zip(COLS, r, strict=True))
        row["artifacts"] = json.loads(row["artifacts"])
        out.append(row)
    return out


def _rewrite(con: sqlite3.Connection, rows: list[Row], *, renumber: bool = True) -> None:
    """Replace the whole log by ``rows``, renumbered 1..n and re-chained with the public digest function."""
    prev = chain.GENESIS
    con.execute("DELETE FROM audit_log")
    for i, r in enumerate(rows, 1):
        seq = i if renumber else r["seq"]
        digest = chain.entry_digest(prev, seq, r["at"], r["actor"], r["persona"], r["action"], r["artifacts"],
                                    r["note"])
        con.execute(f"INSERT INTO audit_log ({', '.join(COLS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, r["at"], r["actor"], r["persona"], r["action"], json.dumps(r["artifacts"]), prev, digest,
                     r["note"]))
        prev = digest
    con.commit()


def _edit_no_recompute(con: sqlite3.Connection) -> None:
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 10")
    con.commit()


def _delete(where: str) -> Callable[[sqlite3.Connection], None]:
    def run(con: sqlite3.Connection) -> None:
        con.execute(f"DELETE FROM audit_log WHERE {where}")
        con.commit()
    return run


def _delete_recompute(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    _rewrite(con, rows[:20] + rows[21:])  # drop entry 21, renumber, re-chain: a "clean" shorter trail


def _reorder(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    rows[14], rows[15] = rows[15], rows[14]
    _rewrite(con, rows)


def _insert(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    forged = dict(rows[5], action="gate.override", actor="mallory", artifacts={"model": "models:/m/1"})
    _rewrite(con, rows[:6] + [forged] + rows[6:])


def _recompute_edit(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    rows[9]["artifacts"] = {"i": 999}
    _rewrite(con, rows)


def _truncate_recompute_all(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    _rewrite(con, rows[:-30])


def _append_forged(con: sqlite3.Connection) -> None:
    rows = _rows(con)
    forged = dict(rows[-1], seq=rows[-1]["seq"] + 1, action="gate.override", actor="mallory",
                  persona="end-user", artifacts={"model": "models:/m/1", "reason": "ship it"})
    _rewrite(con, rows + [forged], renumber=False)


CASES: dict[str, tuple[Callable[[sqlite3.Connection], None], str]] = {
    "edit": (_edit_no_recompute, "edited"),
    "delete-first": (_delete("seq = 1"), "missing"),
    "delete-middle": (_delete("seq = 20"), "missing"),
    "delete-last": (_delete("seq = (SELECT MAX(seq) FROM audit_log)"), "missing"),
    "delete-last-30": (_delete(f"seq > {N_EXTRA + 1 - 30}"), "missing"),
    "delete-all": (_delete("1 = 1"), "missing"),
    "delete-and-recompute": (_delete_recompute, "rewritten"),
    "reorder": (_reorder, "rewritten"),
    "insert": (_insert, "rewritten"),
    "recompute-with-digest": (_recompute_edit, "rewritten"),
    "truncate-and-recompute": (_truncate_recompute_all, "missing"),
    "append-forged-override": (_append_forged, "not covered by a signed checkpoint"),
}


def test_intact_trail_verifies_with_its_last_checkpoint(tmp_path: Path) -> None:
    project = _project(tmp_path)
    r = verify(project)
    assert r.ok, r.problems
    assert r.entries == N_EXTRA + 1 and r.checkpoints == N_EXTRA + 1
    assert r.last_good is not None and r.last_good.seq == N_EXTRA + 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_detected(tmp_path: Path, case: str) -> None:
    project = _project(tmp_path)
    tamper, reason = CASES[case]
    con = _db(project)
    tamper(con)
    con.close()
    r = verify(project)
    assert not r.ok, f"{case} went unnoticed"
    assert any(reason in p.reason for p in r.problems), [p.reason for p in r.problems]


def test_chain_alone_names_a_gap_and_a_broken_link(tmp_path: Path) -> None:
    """Without checkpoints the chain still shows a gap in the sequence and a previous-hash link that does not
    match (a row whose own hash was recomputed over a changed link)."""
    project = _project(tmp_path)
    con = _db(project)
    con.execute("DELETE FROM audit_log WHERE seq = 20")
    rows = {r["seq"]: r for r in _rows(con)}
    r7 = rows[7]
    bad_prev = "f" * 64
    digest = chain.entry_digest(bad_prev, 7, r7["at"], r7["actor"], r7["persona"], r7["action"], r7["artifacts"],
                                r7["note"])
    con.execute("UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE seq = 7", (bad_prev, digest))
    con.commit()
    con.close()
    with project.read_session() as s:
        problems = chain.verify(s)
    reasons = {(p.seq, p.reason.split(" (")[0]) for p in problems}
    assert (21, "entry 20 is missing before entry 21") in reasons
    assert (7, "previous-hash link does not match the entry before it") in reasons
    assert (8, "previous-hash link does not match the entry before it") in reasons  # 8 still links to the old 7
    assert not any(p.seq == 7 and "edited" in p.reason for p in problems)  # 7's own hash was recomputed


def test_deleted_checkpoint_file_is_detected(tmp_path: Path) -> None:
    project = _project(tmp_path)
    project.checkpoint_path.unlink()
    r = verify(project)
    assert not r.ok and "missing" in r.problems[0].reason and r.problems[0].seq == 0


def test_garbled_and_forged_checkpoint_lines_are_detected(tmp_path: Path) -> None:
    project = _project(tmp_path)
    lines = project.checkpoint_path.read_text().splitlines()
    forged = json.loads(lines[-1])
    forged["sig"] = "00" * 64
    project.checkpoint_path.write_text("\n".join([*lines, "not json", json.dumps(forged)]) + "\n")
    reasons = [p.reason for p in verify(project).problems]
    assert any("not a checkpoint" in r for r in reasons)
    assert any("signature does not verify" in r for r in reasons)


def _resign_everything(project: Project) -> str:
    """An attacker rewrites the trail, signs new checkpoints with their own key and pins it in eml.toml."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    con = _db(project)
    _recompute_edit(con)
    rows = _rows(con)
    con.close()
    key = Ed25519PrivateKey.generate()
    project.checkpoint_path.unlink()
    for r in rows:
        cps.append(project.checkpoint_path, project.project_id, key, r["seq"], r["entry_hash"], r["at"])
    original = str(project.config["audit"]["public_key"])
    project.config["audit"]["public_key"] = cps.public_hex(key)
    project.save_config()
    return original


def test_resigned_trail_passes_the_swapped_pin_but_not_the_key_kept_elsewhere(tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = _resign_everything(project)
    reopened = Project(project.root)
    assert verify(reopened).ok  # the pin in eml.toml was replaced too: exactly why --key exists
    key_file = tmp_path / "audit.pub"
    key_file.write_text(original)
    for key in (original, key_file):
        r = verify(reopened, key=key)
        assert not r.ok and all("signature does not verify" in p.reason for p in r.problems[:3])


def test_rollback_of_trail_and_checkpoints_is_caught_by_a_saved_checkpoint(tmp_path: Path) -> None:
    project = _project(tmp_path)
    saved = tmp_path / "head.json"
    saved.write_text(json.dumps(head_checkpoint(project)) + "\n")
    con = _db(project)
    con.execute("DELETE FROM audit_log WHERE seq > 30")
    con.commit()
    con.close()
    lines = project.checkpoint_path.read_text().splitlines()
    project.checkpoint_path.write_text("\n".join(ln for ln in lines if json.loads(ln)["seq"] <= 30) + "\n")
    assert verify(project).ok  # a consistent rollback of both files: undetectable from inside the project
    r = verify(project, checkpoints=[saved])
    assert not r.ok and any(f"entry {N_EXTRA + 1} was checkpointed" in p.reason for p in r.problems)


def test_missing_private_key_leaves_an_unprotected_tail(tmp_path: Path) -> None:
    project = Project(_project(tmp_path).root)  # a fresh open, as on a machine without the key
    cps.private_key_path(project.project_id).rename(tmp_path / "moved.key")
    with project.session() as s:
        project.record(s, "test.event", {"i": "no key"})
    r = verify(project)
    assert not r.ok and r.problems[-1].seq == N_EXTRA + 2 and "not covered" in r.problems[-1].reason
    assert r.last_good is not None and r.last_good.seq == N_EXTRA + 1


def test_old_project_without_a_pin_gets_one_on_its_next_append(tmp_path: Path) -> None:
    project = _project(tmp_path)
    del project.config["audit"]
    project.save_config()
    project.checkpoint_path.unlink()
    cps.private_key_path(project.project_id).unlink()
    old = Project(project.root)
    r = verify(old)
    assert r.ok and r.notes and "only the hash chain" in r.notes[0]
    with old.session() as s:
        old.record(s, "test.event", {"i": "first signed"})
    r = verify(Project(project.root))
    assert r.ok and r.checkpoints == 1 and r.last_good is not None and r.last_good.seq == N_EXTRA + 2

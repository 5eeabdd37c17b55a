"""The audit chain and its signed checkpoints, piece by piece: what an entry holds, the hash format that
trails already written depend on, how ``verify`` names each break, and how checkpoint lines and keys are read.

The tamper matrix (``test_audit_tamper.py``) shows every kind of tampering is caught end to end; these tests pin
the contracts under it, including the ones only PostgreSQL or another machine's key folder would exercise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError
from crisp_eml.store import audit
from crisp_eml.store import audit_checkpoints as cps
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# -- the chain (crisp_eml.store.audit) ---------------------------------------------------------------------

# The canonical body of one entry, as an independent verifier must rebuild it: sorted keys, no spaces.
CANONICAL = ('{"action":"model.train","actor":"alice","artifacts":{"data":{"n":3,"split":"train"},"run":"r1"},'
             '"at":"2024-05-01T12:00:00.000000+00:00","note":"first run","persona":"ml-engineer",'
             '"prev":"' + "0" * 64 + '","seq":1}')


def test_entry_digest_is_the_documented_canonical_form() -> None:
    """Trails written by earlier releases must keep verifying: the hashed form of an entry never changes, and
    it does not depend on the order of the artifact keys (PostgreSQL's JSONB column reorders them)."""
    args = ("2024-05-01T12:00:00.000000+00:00", "alice", "ml-engineer", "model.train")
    digest = audit.entry_digest(audit.GENESIS, 1, *args, {"run": "r1", "data": {"split": "train", "n": 3}},
                                "first run")
    assert digest == hashlib.sha256(CANONICAL.encode()).hexdigest()
    assert digest == "904b5ce856403a3904fa20c960d6e33d7e872bd6da5efc86e0e183c49058b0ff"
    assert audit.entry_digest(audit.GENESIS, 1, *args, {"data": {"n": 3, "split": "train"}, "run": "r1"},
                              "first run") == digest


def _entries(project: Project) -> list[AuditRow]:
    return [r for r in project.audit_entries() if r.action.startswith("test.")]


def test_an_entry_keeps_what_was_recorded_and_verifies(project: Project) -> None:
    """Artifacts are stored as JSON (paths and dates as text), the note is kept and hashed, ``at`` is UTC."""
    before = datetime.now(UTC)
    with project.session() as s:
        project.record(s, "test.with-note", {"file": Path("data") / "a.csv", "when": datetime(2024, 5, 1, tzinfo=UTC),
                                             "n": 3, "tags": ["x"]}, note="why it was done")
        project.record(s, "test.bare")
    after = datetime.now(UTC)
    noted, bare = _entries(project)
    assert noted.artifacts == {"file": str(Path("data") / "a.csv"), "when": "2024-05-01 00:00:00+00:00", "n": 3,
                               "tags": ["x"]}
    assert noted.note == "why it was done"
    assert bare.artifacts == {} and bare.note is None
    at = datetime.fromisoformat(noted.at)
    assert at.utcoffset() == timedelta(0) and before <= at <= after
    assert bare.seq == noted.seq + 1 and bare.prev_hash == noted.entry_hash
    with project.read_session() as s:
        assert audit.verify(s) == []


def _break(project: Project, sql: str) -> list[audit.AuditProblem]:
    with project.session() as s:
        for i in range(5):
            project.record(s, "test.event", {"i": i})
    with project.session() as s:
        s.execute(text(sql))
    with project.read_session() as s:
        return audit.verify(s)


def test_an_edited_entry_is_named_once_and_alone(project: Project) -> None:
    """Only the edited entry is reported: the next one still links to the hash stored for it."""
    problems = _break(project, "UPDATE audit_log SET note = 'backdated' WHERE seq = 3")
    assert problems == [audit.AuditProblem(3, "content does not match its hash (entry was edited)")]


def test_a_deleted_entry_is_named_once(project: Project) -> None:
    problems = _break(project, "DELETE FROM audit_log WHERE seq = 3")
    assert problems == [audit.AuditProblem(4, "entry 3 is missing before entry 4"),
                        audit.AuditProblem(4, "previous-hash link does not match the entry before it")]


def test_verify_does_not_depend_on_the_order_rows_are_stored_in(project: Project) -> None:
    """A database may hand back rows in any order unless asked (PostgreSQL after updates does): SQLite's
    ``reverse_unordered_selects`` makes an unordered read come back backwards, and the trail still verifies."""
    with project.session() as s:
        for i in range(4):
            project.record(s, "test.event", {"i": i})
    with project.read_session() as s:
        s.execute(text("PRAGMA reverse_unordered_selects = ON"))
        assert audit.verify(s) == []


def test_appends_on_postgresql_take_the_shared_advisory_lock_first() -> None:
    """On PostgreSQL two writers must not read the same last entry: each append takes the one transaction
    advisory lock all appenders share before it reads the head. Simulated on SQLite (no server here): the
    dialect reports itself as PostgreSQL and ``pg_advisory_xact_lock`` is a recording function."""
    engine = create_engine("sqlite://")
    calls: list[tuple[str, object]] = []

    def lock(key: object) -> int:
        calls.append(("lock", key))
        return 0

    @event.listens_for(engine, "connect")
    def _register(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.create_function("pg_advisory_xact_lock", 1, lock)

    AuditRow.metadata.tables["audit_log"].create(engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "audit_log" in statement:
            calls.append(("sql", statement.split()[0]))

    engine.dialect.name = "postgresql"
    with Session(engine) as s:
        audit.append(s, actor="a", persona="end-user", action="one")
        audit.append(s, actor="b", persona="end-user", action="two")
        s.commit()
    key = calls[0][1]
    assert isinstance(key, int) and -(2 ** 63) <= key < 2 ** 63
    assert calls == [("lock", key), ("sql", "SELECT"), ("sql", "INSERT")] * 2
    with Session(engine) as s:
        assert audit.verify(s) == []


# -- signed checkpoints (crisp_eml.store.audit_checkpoints) -------------------------------------------------

H1, H2, H3 = "1" * 64, "2" * 64, "3" * 64
PID = "proj-1"


def test_key_home_follows_eml_key_home_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EML_KEY_HOME", str(tmp_path / "keys"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cps.key_home() == tmp_path / "keys"
    assert cps.private_key_path("p1") == tmp_path / "keys" / "audit-p1.key"
    monkeypatch.delenv("EML_KEY_HOME")
    assert cps.key_home() == tmp_path / "xdg" / "crisp-eml" / "keys"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cps.key_home() == tmp_path / "home" / ".config" / "crisp-eml" / "keys"


@pytest.fixture()
def key_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "not" / "yet" / "keys"
    monkeypatch.setenv("EML_KEY_HOME", str(home))
    return home


def test_signing_key_is_made_private_once_and_reused(key_home: Path) -> None:
    assert cps.load_private(PID, create=False) is None
    assert not key_home.exists()
    made = cps.load_private(PID, create=True)
    assert made is not None
    path = key_home / f"audit-{PID}.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    pem = path.read_bytes()
    for create in (False, True):
        again = cps.load_private(PID, create=create)
        assert again is not None and cps.public_hex(again) == cps.public_hex(made)
    assert path.read_bytes() == pem


def test_a_key_made_by_another_process_meanwhile_is_used_not_overwritten(
    key_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two first appends at once: the one that loses the race to create the key file uses the winner's key."""
    theirs = cps.load_private(PID, create=True)
    assert theirs is not None
    path = cps.private_key_path(PID)
    pem = path.read_bytes()
    real_is_file = Path.is_file
    asked: list[Path] = []

    def is_file(p: Path) -> bool:  # the first look finds no key: the other process had not made it yet
        asked.append(p)
        return real_is_file(p) and not (p == path and asked.count(p) == 1)

    monkeypatch.setattr(Path, "is_file", is_file)
    mine = cps.load_private(PID, create=True)
    monkeypatch.undo()
    assert mine is not None and cps.public_hex(mine) == cps.public_hex(theirs)
    assert path.read_bytes() == pem


def test_a_bad_signing_key_file_is_refused_by_name(key_home: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = cps.private_key_path(PID)
    key_home.mkdir(parents=True)
    path.write_text("not a key")
    with pytest.raises(InputError) as err:
        cps.load_private(PID, create=True)
    assert err.value.reason.startswith("unreadable audit signing key: ") and err.value.source == str(path)
    assert path.read_text() == "not a key"  # never replaced
    other = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    with pytest.raises(InputError) as err:
        cps.load_private(PID, create=False)
    assert err.value.reason == "the audit signing key is not an Ed25519 key" and err.value.source == str(path)


@pytest.mark.parametrize("squatter", ["folder", "dangling link"])
def test_a_key_path_that_is_not_a_file_is_refused_not_replaced(key_home: Path, squatter: str) -> None:
    """Nothing to sign with when a folder or a dangling link holds the key's name: with ``create`` that is an
    error naming the path (a project must not start unsigned), without it there is simply no key here."""
    path = cps.private_key_path(PID)
    key_home.mkdir(parents=True)
    if squatter == "folder":
        path.mkdir()
    else:
        path.symlink_to(key_home / "unmounted" / "audit.key")
    assert cps.load_private(PID, create=False) is None
    with pytest.raises(InputError) as err:
        cps.load_private(PID, create=True)
    assert err.value.reason == "cannot make the audit signing key: the path exists and is not a file"
    assert err.value.source == str(path)
    assert path.is_symlink() or path.is_dir()


def _key() -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def test_public_key_is_read_from_hex_or_pem() -> None:
    from cryptography.hazmat.primitives import serialization

    key = _key()
    hexed = cps.public_hex(key)
    assert re.fullmatch(r"[0-9a-f]{64}", hexed)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for text_ in (hexed, f"  {hexed.upper()}\n", pem.decode()):
        pub = cps.parse_public(text_, source="s")
        assert pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() == hexed


def test_a_public_key_that_is_not_ed25519_is_refused_by_name() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(InputError, match=r"not an Ed25519 public key \(64 hex digits or PEM\)") as err:
        cps.parse_public("ab" * 31, source="--key")
    assert err.value.source == "--key"
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(InputError, match="not an Ed25519 public key$") as err:
        cps.parse_public(ec_pem, source="k.pem")
    assert err.value.source == "k.pem"


def test_the_signed_message_is_the_documented_one() -> None:
    """Checkpoint files already written were signed over exactly these bytes."""
    assert cps.message(PID, 7, H1) == f"crisp-eml audit checkpoint v1\n{PID}\n7\n{H1}\n".encode()


def _lines(tmp_path: Path, key: Ed25519PrivateKey, *heads: tuple[int, str]) -> list[str]:
    path = tmp_path / "cp.jsonl"
    path.unlink(missing_ok=True)
    for seq, digest in heads:
        cps.append(path, PID, key, seq, digest, f"at-{seq}")
    return path.read_text().splitlines()


def test_append_adds_one_signed_line_per_checkpoint(tmp_path: Path) -> None:
    key = _key()
    lines = _lines(tmp_path, key, (1, H1), (2, H2))
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == ["seq", "hash", "at", "sig"]
    assert (first["seq"], first["hash"], first["at"]) == (1, H1, "at-1")
    key.public_key().verify(bytes.fromhex(first["sig"]), cps.message(PID, 1, H1))
    cp = cps.parse_line(lines[1])
    assert cp == cps.Checkpoint(2, H2, "at-2", json.loads(lines[1])["sig"])
    assert json.dumps(cp.to_dict(), separators=(",", ":")) == lines[1]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "cp.jsonl").stat().st_mode) == 0o644 & ~umask


SIG = "ab" * 64


@pytest.mark.parametrize(("line", "reason"), [
    ("[1]", "not a JSON object"),
    (json.dumps({"seq": 0, "hash": H1, "sig": SIG}), "'seq' must be a positive integer, got 0"),
    (json.dumps({"seq": True, "hash": H1, "sig": SIG}), "'seq' must be a positive integer, got True"),
    (json.dumps({"seq": "1", "hash": H1, "sig": SIG}), "'seq' must be a positive integer, got '1'"),
    (json.dumps({"hash": H1, "sig": SIG}), "'seq' must be a positive integer, got None"),
    (json.dumps({"seq": 1, "hash": "AB" * 32, "sig": SIG}), "'hash' must be 64 hex digits"),
    (json.dumps({"seq": 1, "hash": H1 + "1", "sig": SIG}), "'hash' must be 64 hex digits"),
    (json.dumps({"seq": 1, "hash": 1, "sig": SIG}), "'hash' must be 64 hex digits"),
    (json.dumps({"seq": 1, "hash": H1, "sig": SIG[:-1]}), "'sig' must be 128 hex digits"),
    (json.dumps({"seq": 1, "hash": H1, "sig": SIG.upper()}), "'sig' must be 128 hex digits"),
    (json.dumps({"seq": 1, "hash": H1}), "'sig' must be 128 hex digits"),
])
def test_a_line_that_is_not_a_checkpoint_says_why(line: str, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        cps.parse_line(line)
    assert str(err.value) == reason


def test_a_checkpoint_line_needs_no_time() -> None:
    assert cps.parse_line(json.dumps({"seq": 1, "hash": H1, "sig": SIG})) == cps.Checkpoint(1, H1, "", SIG)
    assert cps.parse_line(json.dumps({"seq": 2, "hash": H1, "sig": SIG, "at": 5})).at == "5"


def _check(lines: list[str], entries: dict[int, str], key: Ed25519PrivateKey,
           external: list[cps.Checkpoint] | None = None) -> cps.CheckpointReport:
    return cps.check(lines, entries, key.public_key(), PID, source="cp.jsonl", external=external)


def test_check_names_the_line_and_the_entry_of_each_problem(tmp_path: Path) -> None:
    key = _key()
    good = _lines(tmp_path, key, (1, H1), (2, H2), (3, H3))
    forged = json.dumps(dict(json.loads(good[1]), sig=SIG))
    lines = [good[2], "", "garbage", forged, good[0]]
    entries = {1: H1, 2: H2, 3: H3}
    rep = _check(lines, entries, key)
    assert rep.problems == [
        (0, "cp.jsonl line 3 is not a checkpoint: Expecting value: line 1 column 1 (char 0)"),
        (2, "cp.jsonl line 4: signature does not verify with the pinned audit key (forged, or signed by another key)"),
    ]
    assert rep.checkpoints == 3  # the blank line is skipped, the garbled one is no checkpoint
    assert rep.last_good is not None and rep.last_good.seq == 3  # the newest, not the last line
    rep = _check(lines[:1] + lines[4:], entries, key)
    assert rep.problems == [] and rep.checkpoints == 2
    assert rep.last_good is not None and rep.last_good.seq == 3


def test_check_tells_a_missing_entry_from_a_rewritten_one(tmp_path: Path) -> None:
    key = _key()
    lines = _lines(tmp_path, key, (1, H1), (2, H2), (3, H3))
    rep = _check(lines, {1: H1, 3: H2}, key)
    assert rep.problems == [
        (2, "entry 2 was checkpointed (cp.jsonl line 2) but is missing: the trail was truncated or entries were "
            "deleted"),
        (3, "entry 3 differs from its signed checkpoint (cp.jsonl line 3): the trail was rewritten (edited, "
            "reordered, inserted or recomputed)"),
    ]
    assert rep.last_good is not None and rep.last_good.seq == 1


def test_check_names_the_entries_no_checkpoint_covers(tmp_path: Path) -> None:
    key = _key()
    lines = _lines(tmp_path, key, (1, H1))
    rep = _check(lines, {1: H1, 2: H2}, key)
    assert rep.problems == [(2, "entry 2 is not covered by a signed checkpoint (appended without the project's "
                                "audit key: forged, or the writer crashed before checkpointing)")]
    rep = _check([], {1: H1, 2: H2, 3: H3}, key)
    assert rep.problems == [(1, "entries 1..3 are not covered by a signed checkpoint (appended without the "
                                "project's audit key: forged, or the writer crashed before checkpointing)")]
    assert rep.checkpoints == 0 and rep.last_good is None


def test_a_checkpoint_kept_elsewhere_counts_and_is_named(tmp_path: Path) -> None:
    """A saved head checkpoint covers the trail up to it, and a missing entry names where it came from."""
    key = _key()
    saved = cps.parse_line(_lines(tmp_path, key, (3, H3))[0])
    lines = _lines(tmp_path, key, (1, H1))
    rep = _check(lines, {1: H1, 2: H2, 3: H3}, key, external=[saved])
    assert rep.problems == [] and rep.checkpoints == 2
    assert rep.last_good == saved
    rep = _check(lines, {1: H1}, key, external=[saved])
    assert rep.problems == [(3, "entry 3 was checkpointed (checkpoint given for entry 3) but is missing: the trail "
                                "was truncated or entries were deleted")]

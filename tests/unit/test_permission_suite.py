"""The permission suite: every use case that checks a permission, called by every persona and the owner.

The list of use cases comes from the code: an AST scan of ``crisp_eml/workspace`` and ``crisp_eml/lifecycle``
finds every function that calls ``project.require(Permission.X)`` or ``allowed(..., Permission.X, ...)``, and
``USE_CASES`` below must name exactly those functions with exactly those permissions (a new check without an
entry, or an entry whose check is gone, fails). Functions that append to the audit log without any check
must be listed in ``UNCHECKED`` with the reason.

For each entry and each member (one per persona, plus the owner), with the expectation taken from the pinned
table in test_permission_matrix.py:

* refused: ``PermissionDeniedError`` raised by the use case's own check (not by a callee further down, so
  removing a check that a callee happens to repeat is still noticed), and nothing is written: table row
  counts, the audit log, blob digests, the files of the project and the output folder are unchanged;
* allowed: the call succeeds, and when it audits, the entry names the acting member. Every call here runs
  for real (no stage is stubbed): training uses a k-means anomaly block, which fits in well under a second
  without TensorFlow, and compile/verify/profile use the small MLPerf Tiny ad01 model.

Everything runs on one fixture project per module; each test works on its own copy of it.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from data_helpers import small_dataset
from sqlalchemy import func, select
from test_permission_matrix import OWNER, granted

import crisp_eml
from conftest import SHARED
from crisp_eml.core.errors import PermissionDeniedError
from crisp_eml.core.features import FeatureSet
from crisp_eml.core.personas import Permission, Persona
from crisp_eml.store.project import Project
from crisp_eml.store.tables import Base
from crisp_eml.store.tables.audit import AuditRow

P = Permission
PKG = Path(crisp_eml.__file__).resolve().parent
SCANNED = ("workspace", "lifecycle")
AD01 = SHARED / "models" / "mlperf-tiny" / "ad01_int8.tflite"
CSV = SHARED / "datasets" / "basic-motions" / "training" / "walking.01.csv"
TARGET = "cortex-m4f-80mhz"
ACTORS = [OWNER, *(p.value for p in Persona)]  # member names: "owner" plus one member named after each persona


# -- what the code checks ----------------------------------------------------------------------------------------
def _permission_arg(node: ast.expr, where: str) -> Permission:
    assert isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Permission", (
        f"{where}: permission checks must name Permission.X literally, got {ast.unparse(node)}")
    return Permission[node.attr]


def _checks_in(fn: ast.AST, where: str) -> set[Permission]:
    out: set[Permission] = set()
    for call in ast.walk(fn):
        if not isinstance(call, ast.Call):
            continue
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "require":
            out.add(_permission_arg(call.args[0], where))
        elif isinstance(f, ast.Name) and f.id == "allowed":
            out.add(_permission_arg(call.args[1], where))
    return out


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    yield f"{node.name}.{sub.name}", sub


def scan() -> tuple[dict[str, frozenset[Permission]], set[str]]:
    """(function -> permissions it checks, functions that audit without checking), keyed ``package.module.fn``."""
    checked: dict[str, frozenset[Permission]] = {}
    unchecked: set[str] = set()
    for package in SCANNED:
        for path in sorted((PKG / package).glob("*.py")):
            for name, fn in _functions(ast.parse(path.read_text(encoding="utf-8"))):
                key = f"{package}.{path.stem}.{name}"
                perms = _checks_in(fn, key)
                if perms:
                    checked[key] = frozenset(perms)
                elif any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "record"
                         for c in ast.walk(fn)):
                    unchecked.add(key)
    return checked, unchecked


# -- the fixture project -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seeded:
    root: Path
    lib: Path  # the compiled library of models:/ad01/1, outside the project
    run_id: str  # a finished k-means anomaly run, registered as models:/kmeans/1 (never gated); a small
    # nn classifier is registered as models:/clf/1 (for calibration)
    features: FeatureSet
    token_id: str  # an API token of the owner
    key_id: str  # an ingestion key
    review_item: str = ""  # a pending field-data review item (another one is labelled, not yet committed)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.credentials import create_ingest_key, create_token
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.gate import run_gate
    from crisp_eml.workspace.import_model import import_model
    from crisp_eml.workspace.impulse import create_impulse, current_impulse, set_impulse_values
    from crisp_eml.workspace.members import add_member
    from crisp_eml.workspace.registry import register_model
    from crisp_eml.workspace.requirements import set_requirements
    from crisp_eml.workspace.snapshot import snapshot
    from crisp_eml.workspace.train import train

    top = tmp_path_factory.mktemp("permission-base")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("EML_MEMBER", "EML_PROJECT"):
            mp.delenv(var, raising=False)
        p = Project.init(top / "proj", "perm", member=OWNER)
        for persona in Persona:
            add_member(p, persona.value, persona.value)
        import_model(p, AD01, "ad01", task="regression")  # before any impulse: none is attached to it
        set_requirements(p, [f"target={TARGET}", "max_ram=1M"])
        compile_model("models:/ad01/1", top / "lib", project=p, vectors=1)
        gate = run_gate(p, "models:/ad01/1")
        assert gate.passed, "deploy needs a passing gate"
        small_dataset(p, per_label=3)
        review_item = _review_submit(p, "pending")["id"]
        _ws("review").label_review(p, [_review_submit(p, "labelled", seed=98)["id"]], "a")
        snapshot(p, "v1")
        create_impulse(p)
        set_impulse_values(p, ['learning={"type": "anomaly-kmeans", "params": {"clusters": 2}}'])
        run_id = str(train(p)["id"])
        register_model(p, run_id, "kmeans")
        # a small classifier for calibration (then back to k-means, so the train use case stays fast)
        set_impulse_values(p, ['learning={"type": "nn-classifier", "params": {"epochs": 2}}'])
        register_model(p, str(train(p)["id"]), "clf")
        set_impulse_values(p, ['learning={"type": "anomaly-kmeans", "params": {"clusters": 2}}'])
        p.blobs.put(b"an orphan blob, for gc to collect")
        fs = generate_features(p, current_impulse(p))
        token = create_token(p, OWNER)["id"]
        key = create_ingest_key(p, "device")["id"]
        _ws("devices").register_device(p, "board", sensors=[{"name": "acc", "axes": ["x", "y"]}])
        _ws("captures").request_capture(p, "board", label="a", length_ms=1000)  # waits for the device
    yield Seeded(top / "proj", top / "lib", run_id, fs, token, key, review_item)


def _review_submit(p: Project, upload_id: str, seed: int = 99) -> Any:
    """A window queued for review (as a device's upload), 3 axes at 50 Hz like ``small_dataset``'s samples."""
    from data_helpers import wave

    from crisp_eml.core.sample import Sensor
    from crisp_eml.data.formats.ei_acquisition import build_message, encode

    msg = build_message(wave(seed=seed), [Sensor(n) for n in "xyz"], 50.0)
    return _ws("review").submit_review_item(p, None, upload_id=upload_id, reason="low-confidence",
                                            payload=encode(msg), predicted="a", confidence=0.4)


@dataclass(frozen=True)
class Ctx:
    project: Project
    out: Path  # an empty folder outside the project for outputs
    base: Seeded


# -- the use cases -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    perms: frozenset[Permission]
    any_of: bool = False  # True: one of perms suffices; False: all of them are needed

    def met_by(self, actor: str) -> bool:
        hits = [granted(actor, p) for p in self.perms]
        return any(hits) if self.any_of else all(hits)


def need(*perms: Permission) -> Need:
    return Need(frozenset(perms))


def any_of(*perms: Permission) -> Need:
    return Need(frozenset(perms), any_of=True)


@dataclass(frozen=True)
class UseCase:
    name: str  # package.module.function, as scan() names it
    need: Need
    call: Callable[[Ctx], Any]
    audits: str | None  # the audit action an allowed call appends (with the acting member), None when none


def _ws(module: str) -> Any:
    import importlib

    return importlib.import_module(f"crisp_eml.workspace.{module}")


def _check_promotion(c: Ctx) -> Any:
    with c.project.session() as s:  # kmeans/1 was never gated: moving production needs an override
        return _ws("promotion").check_promotion(c.project, s, "kmeans", 1, "production", "urgent fix")


def _train_on_features(c: Ctx) -> Any:
    from crisp_eml.learn.blocks import parse_block

    block = parse_block({"type": "anomaly-kmeans", "params": {"clusters": 2}})
    return _ws("train").train_on_features(c.project, c.base.features, block)


def _ingest_files(c: Ctx) -> Any:
    from pathlib import PurePath

    ingest = _ws("ingest")
    item = ingest.SourceFile(CSV, PurePath(CSV.name), None, source=f"upload:{CSV.name}")
    return ingest.ingest_files(c.project, [item], label="walking")


def _capture_serial(c: Ctx) -> Any:
    from crisp_eml.capture.serial_port import Board, Reading

    readings = [Reading(i / 100, [float(i % 7), float(i % 5)], "") for i in range(100)]
    return _ws("capture_serial").capture_serial(c.project, readings, board=Board("/dev/ttyACM0", "usb:1234"),
                                                label="a", length_ms=500, frequency_hz=100)


def _save_impulse(c: Ctx) -> Any:
    impulse = _ws("impulse")
    return impulse.save_impulse(c.project, impulse.current_impulse(c.project), action="impulse.set")


USE_CASES: list[UseCase] = [
    UseCase("workspace.requirements.set_requirements", need(P.SET_REQUIREMENTS),
            lambda c: _ws("requirements").set_requirements(c.project, ["min_accuracy=0.5"]), "requirements.set"),
    UseCase("workspace.ingest.ingest_paths", need(P.INGEST_DATA),
            lambda c: _ws("ingest").ingest_paths(c.project, [CSV], label="walking"), "sample.ingest"),
    UseCase("workspace.ingest.ingest_files", need(P.INGEST_DATA), _ingest_files, "sample.ingest"),
    UseCase("workspace.capture_serial.capture_serial", need(P.INGEST_DATA), _capture_serial, "sample.ingest"),
    UseCase("workspace.ingest_upload.require_ingest", need(P.INGEST_DATA),
            lambda c: _ws("ingest_upload").require_ingest(c.project), None),
    UseCase("workspace.credentials.create_ingest_key", need(P.INGEST_DATA),
            lambda c: _ws("credentials").create_ingest_key(c.project, "sensor"), "ingest_key.create"),
    UseCase("workspace.credentials.revoke_ingest_key", need(P.INGEST_DATA),
            lambda c: _ws("credentials").revoke_ingest_key(c.project, c.base.key_id), "ingest_key.revoke"),
    UseCase("workspace.credentials.hmac_key", need(P.INGEST_DATA),  # the fixture has none: this makes it
            lambda c: _ws("credentials").hmac_key(c.project), "ingest_hmac.create"),
    UseCase("workspace.remove_sample.remove_sample", need(P.INGEST_DATA),
            lambda c: _ws("remove_sample").remove_sample(c.project, "a.00"), "sample.remove"),
    UseCase("workspace.clean.clean", need(P.INGEST_DATA), lambda c: _ws("clean").clean(c.project), "dataset.clean"),
    UseCase("workspace.gc_blobs.gc_blobs", need(P.INGEST_DATA),
            lambda c: _ws("gc_blobs").gc_blobs(c.project, min_age_s=0), "blob.gc"),
    UseCase("workspace.snapshot.snapshot", need(P.INGEST_DATA),
            lambda c: _ws("snapshot").snapshot(c.project, "a version"), "dataset.snapshot"),
    UseCase("workspace.snapshot.ensure_version", any_of(P.INGEST_DATA, P.TRAIN),
            lambda c: _ws("snapshot").ensure_version(c.project, "auto"), None),  # the data still matches v1
    UseCase("workspace.snapshot.restore_version", need(P.LABEL_DATA),
            lambda c: _ws("snapshot").restore_version(c.project, 1), "dataset.restore"),
    UseCase("workspace.label.label_samples", need(P.LABEL_DATA),
            lambda c: _ws("label").label_samples(c.project, ["a.00"], "b"), "sample.label"),
    UseCase("workspace.review.submit_review_item", need(P.INGEST_DATA),
            lambda c: _review_submit(c.project, "another"), "review.submit"),
    UseCase("workspace.review.label_review", need(P.LABEL_DATA),
            lambda c: _ws("review").label_review(c.project, [c.base.review_item], "b"), "review.label"),
    UseCase("workspace.review.dismiss_review", need(P.LABEL_DATA),
            lambda c: _ws("review").dismiss_review(c.project, [c.base.review_item]), "review.dismiss"),
    UseCase("workspace.review.commit_review", need(P.LABEL_DATA, P.INGEST_DATA),  # labels, and a dataset version
            lambda c: _ws("review").commit_review(c.project, "field data"), "review.commit"),
    UseCase("workspace.rebalance.rebalance", need(P.LABEL_DATA),
            lambda c: _ws("rebalance").rebalance(c.project, test_fraction=0.5), "dataset.rebalance"),
    UseCase("workspace.impulse.create_impulse", need(P.DESIGN_IMPULSE),
            lambda c: _ws("impulse").create_impulse(c.project), "impulse.create"),
    UseCase("workspace.impulse.save_impulse", need(P.DESIGN_IMPULSE), _save_impulse, "impulse.set"),
    UseCase("workspace.autotune.autotune_impulse", need(P.DESIGN_IMPULSE),
            lambda c: _ws("autotune").autotune_impulse(c.project), "impulse.autotune"),
    UseCase("workspace.explore.explore_features", need(P.DESIGN_IMPULSE),
            lambda c: _ws("explore").explore_features(c.project), "features.explore"),
    UseCase("workspace.features.generate_features_report", any_of(P.DESIGN_IMPULSE, P.TRAIN),
            lambda c: _ws("features").generate_features_report(c.project, category="testing"), None),
    UseCase("workspace.train.train", need(P.TRAIN), lambda c: _ws("train").train(c.project), "learn.train"),
    UseCase("workspace.train.train_on_features", need(P.TRAIN), _train_on_features, "learn.train"),
    UseCase("workspace.evaluate.test_run", need(P.TRAIN),
            lambda c: _ws("evaluate").test_run(c.project, run_id=c.base.run_id), "learn.test"),
    UseCase("workspace.calibrate.calibrate", need(P.TRAIN),
            lambda c: _ws("calibrate").calibrate(c.project, "models:/clf/1", background=["a"], hours=0.05,
                                                 report=c.out / "calibration.html"), "model.calibrate"),
    UseCase("workspace.registry.register_model", need(P.TRAIN),
            lambda c: _ws("registry").register_model(c.project, c.base.run_id, "kmeans"), "model.register"),
    UseCase("workspace.import_model.import_model", need(P.TRAIN),
            lambda c: _ws("import_model").import_model(c.project, AD01, "ad01b", task="regression"), "model.import"),
    UseCase("workspace.compile.compile_model", need(P.COMPILE),
            lambda c: _ws("compile").compile_model(str(AD01), c.out / "lib", project=c.project, vectors=0),
            "compiler.compile"),
    UseCase("workspace.formats.compile_format", need(P.COMPILE),
            lambda c: _ws("formats").compile_format(str(AD01), "linux", c.out / "ad-run", project=c.project),
            "runtime.build"),
    UseCase("workspace.verify.verify_library", need(P.COMPILE),  # opens the project from $EML_PROJECT
            lambda c: _ws("verify").verify_library(c.base.lib, sanitize=False), "compiler.verify"),
    UseCase("workspace.profile.profile", need(P.COMPILE),
            lambda c: _ws("profile").profile(str(c.base.lib), TARGET, project=c.project), "compiler.profile"),
    UseCase("workspace.gate.run_gate", need(P.APPROVE_GATE),
            lambda c: _ws("gate").run_gate(c.project, "models:/ad01/1"), "gate.evaluate"),
    UseCase("workspace.registry.set_alias", need(P.MOVE_ALIAS),
            lambda c: _ws("registry").set_alias(c.project, "kmeans", "staging", 1), "model.alias"),
    UseCase("workspace.promotion.check_promotion", need(P.APPROVE_GATE, P.MOVE_ALIAS), _check_promotion,
            "gate.override"),
    UseCase("workspace.deploy.deploy", need(P.DEPLOY),
            lambda c: _ws("deploy").deploy(c.project, "models:/ad01/1", TARGET, c.out / "b.zip",
                                           library=c.base.lib), "model.deploy"),
    UseCase("workspace.deploy_served.deploy_in_project", need(P.DEPLOY),
            lambda c: _ws("deploy_served").deploy_in_project(c.project, "models:/ad01/1", TARGET), "model.deploy"),
    UseCase("workspace.keys.show_key", need(P.DEPLOY),  # the fixture has no signing key: this creates it
            lambda c: _ws("keys").show_key(c.project), "keys.create"),
    UseCase("workspace.members.add_member", need(P.MANAGE_MEMBERS),
            lambda c: _ws("members").add_member(c.project, "newcomer", "end-user"), "member.add"),
    UseCase("workspace.members.remove_member", need(P.MANAGE_MEMBERS),
            lambda c: _ws("members").remove_member(c.project, "end-user"), "member.remove"),
    # a member manages their own tokens; someone else's (here the owner's) needs manage-members
    UseCase("workspace.credentials.create_token", need(P.MANAGE_MEMBERS),
            lambda c: _ws("credentials").create_token(c.project, OWNER), "token.create"),
    UseCase("workspace.credentials.list_tokens", need(P.MANAGE_MEMBERS),
            lambda c: _ws("credentials").list_tokens(c.project, all_members=True), None),
    UseCase("workspace.credentials.revoke_token", need(P.MANAGE_MEMBERS),
            lambda c: _ws("credentials").revoke_token(c.project, c.base.token_id), "token.revoke"),
    UseCase("workspace.devices.register_device", need(P.INGEST_DATA),
            lambda c: _ws("devices").register_device(c.project, "board-2"), "device.register"),
    UseCase("workspace.devices.revoke_device", need(P.INGEST_DATA),
            lambda c: _ws("devices").revoke_device(c.project, "board"), "device.revoke"),
    UseCase("workspace.captures.request_capture", need(P.INGEST_DATA),
            lambda c: _ws("captures").request_capture(c.project, "board", label="b", length_ms=500),
            "capture.request"),
    UseCase("workspace.captures.cancel_capture", need(P.INGEST_DATA),
            lambda c: _ws("captures").cancel_capture(c.project, _ws("captures").list_captures(c.project)[0]["id"]),
            "capture.cancel"),
    # a member signs themselves in; a login link for someone else (here the owner) needs manage-members
    UseCase("workspace.studio_sessions.create_login_link", need(P.MANAGE_MEMBERS),
            lambda c: _ws("studio_sessions").create_login_link(c.project, OWNER), "login_link.create"),
]

# Functions that append to the audit log without a permission check of their own, and why that is right.
UNCHECKED: dict[str, str] = {
    "workspace.check.check_dataset": "open to every member: reads the data and records the computed score",
    "workspace.export.export_dataset": "open to every member: a read, audited so exports are traceable",
    "workspace.report.write_report": "open to every member: a read, audited so reports are traceable",
    "workspace.compile_anomaly.compile_anomaly": "helper: only called by compile_model after its COMPILE check",
    "workspace.registry.register_in_session": "helper: called by register_model and import_model after TRAIN",
    "workspace.ingest._add": "private helper of ingest_paths (after INGEST_DATA)",
    "workspace.gc_blobs.collect": "helper of gc_blobs (after INGEST_DATA) and of ingest dropping its own unused "
                                  "blobs (no actor there: not audited)",
    "workspace.gc_blobs._collect_remote": "private helper of collect",
    "workspace.snapshot.create_version": "helper of snapshot, ensure_version and review.commit_review (after "
                                         "their checks; it takes the checked actor)",
    "workspace.studio_sessions._start": "a member signing in (a valid login link or API token is the check)",
    "workspace.studio_sessions.end_session": "a member signing their own session out (the session is the check)",
}


def test_permission_table_lists_exactly_the_use_cases_that_check() -> None:
    checked, _ = scan()
    table = {u.name: u.need.perms for u in USE_CASES}
    assert len(table) == len(USE_CASES), "one entry per use case"
    missing = sorted(set(checked) - set(table))
    gone = sorted(set(table) - set(checked))
    assert not missing, f"use cases that check a permission but have no entry in USE_CASES: {missing}"
    assert not gone, f"USE_CASES entries that no longer exist or no longer check a permission: {gone}"
    differ = {k: (sorted(checked[k]), sorted(table[k])) for k in table if checked[k] != table[k]}
    assert not differ, f"permission checked in code vs in USE_CASES: {differ}"


def test_permission_unchecked_audit_writers_are_all_explained() -> None:
    _, unchecked = scan()
    new = sorted(unchecked - set(UNCHECKED))
    stale = sorted(set(UNCHECKED) - unchecked)
    assert not new, f"these audit without a permission check: add one, or explain why in UNCHECKED: {new}"
    assert not stale, f"UNCHECKED entries that now check a permission or no longer exist: {stale}"


def test_permission_scan_sees_every_check_site() -> None:
    """The scan is not vacuous: it finds the checks that are known to exist, in both spellings."""
    checked, _ = scan()
    assert checked["workspace.promotion.check_promotion"] == {P.APPROVE_GATE, P.MOVE_ALIAS}
    assert checked["workspace.snapshot.ensure_version"] == {P.INGEST_DATA, P.TRAIN}  # allowed(...) twice
    assert len(checked) >= 29


# -- running them -----------------------------------------------------------------------------------------------
def fingerprint(project: Project, out: Path) -> dict[str, Any]:
    """Everything a refused call must leave alone."""
    with project.read_session() as s:
        counts = {t.name: int(s.execute(select(func.count()).select_from(t)).scalar() or 0)
                  for t in Base.metadata.sorted_tables}
        audit = [(r.seq, r.action) for r in s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars()]
    files = {str(p.relative_to(project.root)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in project.root.rglob("*") if p.is_file() and not p.name.startswith("metadata.db")}
    return {"rows": counts, "audit": audit, "blobs": sorted(project.blobs), "files": files,
            "out": sorted(str(p) for p in out.rglob("*"))}


def _refused_by(exc: BaseException) -> str:
    """Name of the innermost workspace/lifecycle function the refusal came from."""
    frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)
              if Path(f.f_code.co_filename).resolve().parent.name in SCANNED
              and Path(f.f_code.co_filename).resolve().parent.parent == PKG]
    assert frames, "the refusal did not pass through any use case"
    code = frames[-1].f_code
    return f"{Path(code.co_filename).parent.name}.{Path(code.co_filename).stem}.{code.co_name}"


@pytest.fixture()
def ctx(base: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    root = tmp_path / "proj"
    shutil.copytree(base.root, root)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("EML_PROJECT", str(root))
    monkeypatch.chdir(tmp_path)
    return Ctx(Project(root), out, base)


CASES = [(u, a) for u in USE_CASES for a in ACTORS]


@pytest.mark.parametrize(("use_case", "actor"), CASES, ids=[f"{u.name.rsplit('.', 1)[1]}-{a}" for u, a in CASES])
def test_permission_suite(use_case: UseCase, actor: str, ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EML_MEMBER", actor)
    before = fingerprint(ctx.project, ctx.out)
    if not use_case.need.met_by(actor):
        with pytest.raises(PermissionDeniedError) as exc:
            use_case.call(ctx)
        assert _refused_by(exc.value) == use_case.name, "refused by a callee, not at the door"
        if len(use_case.need.perms) == 1 and not use_case.name.endswith("ensure_version"):
            (perm,) = use_case.need.perms
            msg = str(exc.value)
            assert actor in msg and perm.value.replace("-", " ") in msg, msg
        assert fingerprint(ctx.project, ctx.out) == before, "a refused call changed the project"
        return
    use_case.call(ctx)  # allowed: must not raise
    after = [r for r in ctx.project.audit_entries() if r.seq > max(s for s, _ in before["audit"])]
    if use_case.audits is not None:
        mine = [r for r in after if r.action == use_case.audits]
        assert mine, f"no {use_case.audits} audit entry; got {[r.action for r in after]}"
        assert all(r.actor == actor for r in after), [(r.action, r.actor) for r in after]


def test_permission_show_existing_key_is_open_to_every_member(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only creating the signing key needs DEPLOY (show_key's entry above): an existing public key is shown to
    every member, without creating anything or writing to the audit log."""
    monkeypatch.setenv("EML_MEMBER", OWNER)
    first = _ws("keys").show_key(ctx.project)
    assert first["created"]
    for actor in ACTORS:
        monkeypatch.setenv("EML_MEMBER", actor)
        before = fingerprint(ctx.project, ctx.out)
        shown = _ws("keys").show_key(ctx.project)
        assert (shown["public_key"], shown["created"]) == (first["public_key"], False), actor
        assert fingerprint(ctx.project, ctx.out) == before, actor


def test_permission_suite_covers_every_persona_both_ways() -> None:
    """Not vacuous: every persona is refused something and (except end-users) allowed something."""
    for actor in ACTORS:
        outcomes = {u.need.met_by(actor) for u in USE_CASES}
        want = {True} if actor == OWNER else {False} if actor == Persona.END_USER.value else {True, False}
        assert outcomes == want, actor

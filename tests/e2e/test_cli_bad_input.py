"""No traceback ever reaches a user: every ``eml`` command, fed bad input, fails cleanly.

Every command is walked from the Typer app (as ``scripts/gen_cli_docs.py`` does) and run in-process in
(a) a folder with no project and (b) a fresh, empty project; then (c) a table of malformed inputs
(random bytes as model/data files, truncated real files, bad ``KEY=VALUE`` pairs, unknown model URIs and
sample ids, bad targets, absurd numbers, unwritable output paths) runs against a project holding two
real samples and the imported MLPerf Tiny keyword model. The rules checked (DESIGN.md):

* the exit code is never 70 (the CLI's "internal error, this is a bug" code), and never 0 where an
  error is expected;
* stderr holds no ``Traceback`` and, for (c), names the offending file/field;
* nothing is half-written: sample, audit and blob counts are unchanged and no output path is left.

No command trains: the only model is imported, so every command runs in well under a second.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
INTERNAL_ERROR = 70

#: Commands that succeed without a project (everything else must fail with a "project" message).
NO_PROJECT_OK = {("init",), ("version",), ("targets",)}
#: Commands that read a file argument and need no project: they fail on the placeholder file instead.
FILE_FIRST = {("inspect",), ("profile",), ("verify",), ("compile",), ("bundle", "verify"), ("data", "label")}
#: Commands left out of the no-project / empty-project sweeps, and why.
SWEEP_EXCLUDED = {
    ("init",): "creates a project in the current folder by design (covered by its own malformed cases)",
    ("data", "synth"): "writes synthetic files without a project by design (image engineer's area)",
}


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if isinstance(subs, dict):
        for name in sorted(subs):
            yield from _walk(subs[name], (*path, name))
    else:
        yield path, cmd


def _leaf_commands() -> list[tuple[tuple[str, ...], list[str]]]:
    """Every leaf command with placeholder values for its required arguments and options."""
    import typer

    from crisp_eml.cli.main import _register, app

    _register()
    out = []
    for path, cmd in _walk(typer.main.get_command(app)):
        args: list[str] = []
        for p in cmd.params:
            if not p.required:
                continue
            if p.param_type_name == "argument":
                args.append("1")
            else:
                args += [p.opts[0], "1"]
        out.append((path, args))
    return out


LEAVES = _leaf_commands()


def _state(root: Path) -> tuple[int, int, int, list[str]]:
    """(samples, audit entries, blobs, files outside .eml) of a project, read without crisp-eml."""
    con = sqlite3.connect(root / ".eml" / "metadata.db")
    try:
        samples = con.execute("select count(*) from samples").fetchone()[0]
        audit = con.execute("select count(*) from audit_log").fetchone()[0]
    finally:
        con.close()
    blobs = sum(1 for p in (root / ".eml" / "blobs").rglob("*") if p.is_file())
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".eml" not in p.relative_to(root).parts)
    return samples, audit, blobs, files


def _clean(code: int, out: str, err: str, args: list[str]) -> None:
    shown = f"eml {' '.join(args)} -> {code}\nstdout: {out[-800:]}\nstderr: {err[-1500:]}"
    assert code != INTERNAL_ERROR, shown
    assert "Traceback" not in err and "Traceback" not in out, shown
    assert "internal error" not in err, shown


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """noproj/, empty/ (fresh project), full/ (2 samples + models:/kws/1), bad/ (malformed files)."""
    from crisp_eml.cli.main import main

    if not KWS.is_file() or not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {KWS} / {BASIC_MOTIONS}")
    base = tmp_path_factory.mktemp("badinput")
    (base / "noproj").mkdir()
    bad = base / "bad"
    bad.mkdir()
    rnd = bytes(range(256)) * 3 + b"\x00\xff" * 100
    for ext in ("tflite", "csv", "wav", "json", "cbor", "png", "zip", "bundle"):
        (bad / f"random.{ext}").write_bytes(rnd)
        (bad / f"empty.{ext}").write_bytes(b"")
    (bad / "truncated.tflite").write_bytes(KWS.read_bytes()[:3000])
    (bad / "header_only.csv").write_text("timestamp,accX,accY\n")
    (bad / "text.csv").write_text("a,b\nx,y\n1,zz\n")
    (bad / "list.json").write_text("[1, 2, 3]")
    (bad / "obj.json").write_text('{"protected": {}, "payload": {"values": "nope"}}')
    for name, manifest in (("lib_nokeys", '{"name": "x"}'), ("lib_notjson", "{"), ("lib_list", "[]"),
                           ("lib_neg", '{"arena_bytes": -1, "ram_bytes": 5, "weights_bytes": 1}'),
                           ("lib_badflash", '{"arena_bytes": 1, "ram_bytes": 5, "weights_bytes": 1, '
                                            '"flash_bytes": -3}'),
                           ("lib_badshape", '{"name": "x", "inputs": [{"shape": "ab"}], "outputs": []}')):
        (bad / name).mkdir()
        (bad / name / "MANIFEST.json").write_text(manifest)
    cwd = Path.cwd()
    for name in ("empty", "full"):
        try:
            with pytest.raises(SystemExit) as ex:
                main(["init", str(base / name), "--member", "tester"])
            assert not ex.value.code
        finally:
            os.chdir(cwd)
    full = base / "full"
    os.chdir(full)
    try:
        for argv in (
            ["ingest", str(BASIC_MOTIONS / "training" / "walking.01.csv"),
             str(BASIC_MOTIONS / "testing" / "running.01.csv")],
            ["models", "import", str(KWS), "--name", "kws"],
            ["impulse", "create"],
        ):
            with pytest.raises(SystemExit) as ex:
                main(argv)
            assert not ex.value.code, argv
    finally:
        os.chdir(cwd)
    return {"noproj": base / "noproj", "empty": base / "empty", "full": full, "bad": bad, "base": base}


@pytest.mark.parametrize(("path", "args"), [pytest.param(p, a, id="-".join(p)) for p, a in LEAVES])
def test_no_project_and_empty_project(work: dict[str, Path], run_cli, path, args) -> None:  # type: ignore[no-untyped-def]
    if path in SWEEP_EXCLUDED:
        pytest.skip(SWEEP_EXCLUDED[path])
    argv = [*path, *args]
    code, out, err = run_cli(argv, cwd=work["noproj"])
    _clean(code, out, err, argv)
    if path not in NO_PROJECT_OK:
        assert code != 0, f"eml {' '.join(argv)} succeeded without a project\n{out}"
        if path not in FILE_FIRST:
            assert "project" in err.lower(), err
    assert sorted(os.listdir(work["noproj"])) == [], "left files in a folder without a project"

    before = _state(work["empty"])
    code, out, err = run_cli(argv, cwd=work["empty"])
    _clean(code, out, err, argv)
    if code != 0:
        assert _state(work["empty"]) == before, f"eml {' '.join(argv)} failed but changed the project"


# (args, text the error must contain). {bad}, {nope}, {notdir}, {kws}, {base} are substituted.
MALFORMED: list[tuple[list[str], str]] = [
    # ingest: nonexistent, empty, random bytes, truncated, bad metadata / options
    (["ingest", "{nope}/a.csv"], "a.csv"),
    *[(["ingest", f"{{bad}}/random.{e}"], f"random.{e}") for e in ("csv", "wav", "json", "cbor", "png")],
    *[(["ingest", f"{{bad}}/empty.{e}"], f"empty.{e}") for e in ("csv", "wav", "json", "cbor", "png")],
    (["ingest", "{bad}/header_only.csv"], "header_only.csv"),
    (["ingest", "{bad}/text.csv"], "text.csv"),
    (["ingest", "{bad}/list.json"], "list.json"),
    (["ingest", "{bad}/obj.json"], "obj.json"),
    (["ingest", "{bad}/random.zip"], "random.zip"),
    (["ingest", str(BASIC_MOTIONS / "training" / "walking.02.csv"), "--metadata", "novalue"], "metadata"),
    (["ingest", str(BASIC_MOTIONS / "training" / "walking.02.csv"), "--frequency", "-5"], "frequency"),
    (["ingest", str(BASIC_MOTIONS / "training" / "walking.02.csv"), "--frequency", "1e308"], "frequency"),
    (["ingest", str(BASIC_MOTIONS / "training" / "walking.02.csv"), "--category", "bogus"], "category"),
    # models / registry
    (["models", "import", "{nope}/m.tflite", "--name", "m"], "m.tflite"),
    (["models", "import", "{bad}/random.tflite", "--name", "m"], "random.tflite"),
    (["models", "import", "{bad}/empty.tflite", "--name", "m"], "empty.tflite"),
    (["models", "import", "{bad}/truncated.tflite", "--name", "m"], "truncated.tflite"),
    (["models", "import", "{kws}", "--name", "bad name!"], "name"),
    (["models", "import", "{kws}", "--name", "m2", "--labels", "a,b"], "labels"),
    (["models", "import", "{kws}", "--name", "m2", "--task", "bogus"], "task"),
    (["models", "show", "models:/nope@production"], "nope"),
    (["models", "show", "models:/kws/999"], "999"),
    (["models", "show", "models:/x/999"], "x"),
    (["models", "show", "not-a-uri"], "not-a-uri"),
    (["models", "show", "models:/"], "models:/"),
    (["models", "show", "models:/kws/-1"], "-1"),
    (["models", "lineage", "models:/nope@production"], "nope"),
    (["models", "lineage", "not-a-uri"], "not-a-uri"),
    (["models", "register", "m", "--run", "nope"], "nope"),
    (["models", "alias", "set", "kws", "production", "999"], "999"),
    (["models", "alias", "set", "kws", "production", "abc"], "version"),
    (["models", "alias", "set", "nope", "production", "1"], "nope"),
    (["models", "alias", "set", "kws", "bad alias!", "1"], "alias"),
    (["models", "alias", "history", "nope"], "nope"),
    (["models", "ls", "nope"], "nope"),
    # compiler
    (["inspect", "{nope}/m.tflite"], "m.tflite"),
    (["inspect", "{bad}/random.tflite"], "random.tflite"),
    (["inspect", "{bad}/empty.tflite"], "empty.tflite"),
    (["inspect", "{bad}/truncated.tflite"], "truncated.tflite"),
    (["inspect", "{bad}/random.png"], "random.png"),
    (["compile", "{bad}/random.tflite", "-o", "{base}/out_c1"], "random.tflite"),
    (["compile", "{bad}/truncated.tflite", "-o", "{base}/out_c2"], "truncated.tflite"),
    (["compile", "{nope}/m.tflite", "-o", "{base}/out_c3"], "m.tflite"),
    (["compile", "--model", "models:/nope@production", "-o", "{base}/out_c4"], "nope"),
    (["compile", "--model", "not-a-uri", "-o", "{base}/out_c5"], "not-a-uri"),
    (["compile", "{kws}", "-o", "{notdir}/lib"], "sub"),
    (["compile", "{kws}", "-o", "{base}/out_c6", "--vectors", "-3"], "vectors"),
    (["compile", "{kws}", "-o", "{base}/out_c7", "--labels", ",,"], "labels"),
    (["verify", "{nope}/lib"], "lib"),
    (["verify", "{bad}"], "bad"),
    (["verify", "{bad}/random.zip"], "random.zip"),
    *[(["verify", f"{{bad}}/{lib}"], lib) for lib in ("lib_nokeys", "lib_notjson", "lib_list", "lib_badshape")],
    *[(["profile", f"{{bad}}/{lib}"], lib) for lib in ("lib_nokeys", "lib_notjson", "lib_list", "lib_badshape")],
    (["compile", "{kws}", "-o", "{base}/out_c9", "--vectors", "100000000"], "vectors"),
    (["profile", "{nope}/lib"], "lib"),
    (["profile", "{bad}/random.tflite"], "random.tflite"),
    (["profile", "{bad}/truncated.tflite"], "truncated.tflite"),
    (["profile", "{kws}", "--target", "no-such-board"], "no-such-board"),
    (["profile", "models:/nope@production"], "nope"),
    # lifecycle
    (["gate", "models:/nope@production"], "nope"),
    (["gate", "not-a-uri"], "not-a-uri"),
    (["gate", "models:/kws/1", "--target", "no-such-board"], "no-such-board"),
    (["gate", "models:/kws/1", "--library", "{nope}/lib"], "lib"),
    *[(["gate", "models:/kws/1", "--library", f"{{bad}}/{lib}"], lib)
      for lib in ("lib_nokeys", "lib_notjson", "lib_list", "lib_neg", "lib_badflash")],
    (["gate", "models:/kws/1", "--profile", "{bad}/random.json"], "random.json"),
    (["deploy", "models:/x/999", "--target", "cortex-m4", "-o", "{base}/out_d1"], "x"),
    (["deploy", "models:/kws/1", "--target", "no-such-board", "-o", "{base}/out_d2"], "no-such-board"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{notdir}/b.bundle"], "gate"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{base}/out_d3", "--library", "{nope}/l"], "l"),
    (["bundle", "verify", "{nope}/b.bundle"], "b.bundle"),
    (["bundle", "verify", "{bad}/random.bundle"], "random.bundle"),
    (["bundle", "verify", "{bad}/empty.bundle"], "empty.bundle"),
    (["bundle", "verify", "{bad}/random.zip"], "random.zip"),
    (["requirements", "set", "novalue"], "novalue"),
    (["requirements", "set", "accuracy=high"], "accuracy"),
    (["requirements", "set", "nosuchkpi>=3"], "nosuchkpi"),
    (["requirements", "set", "=3"], "="),
    (["members", "add", "bad name!", "--persona", "data-scientist"], "name"),
    (["members", "add", "bob", "--persona", "wizard"], "persona"),
    (["members", "rm", "nobody"], "nobody"),
    (["report", "-o", "{notdir}/r.html"], "sub"),
    (["report", "-o", "{base}/out_r2.html", "--model", "models:/nope@production"], "nope"),
    (["report", "--model", "not-a-uri", "-o", "{base}/out_r.html"], "not-a-uri"),
    (["audit", "log", "--limit", "-1"], "limit"),
    # data
    (["data", "show", "nope"], "nope"),
    (["data", "rm", "nope"], "nope"),
    (["data", "label", "nope", "x"], "nope"),
    (["data", "label", "walking.01", "--category", "bogus"], "category"),
    (["data", "diff", "999", "998"], "999"),
    (["data", "restore", "999"], "999"),
    (["data", "version", "show", "999"], "999"),
    (["data", "export", "{notdir}/exp"], "sub"),
    (["data", "export", "{base}/out_e1", "--format", "bogus"], "format"),
    (["data", "export", "{base}/out_e2", "--version", "999"], "999"),
    (["data", "check", "--window-ms", "-5"], "window"),
    (["data", "check", "--html", "{notdir}/q.html"], "sub"),
    (["data", "check", "--layer", "bogus"], "layer"),
    (["data", "check", "--fail-below", "-3"], "fail"),
    (["data", "clean", "--resample", "-10"], "resample"),
    (["data", "clean", "--window-ms", "0"], "window"),
    (["data", "rebalance", "--test-fraction", "5"], "fraction"),
    (["data", "rebalance", "--test-fraction", "-0.5"], "fraction"),
    (["data", "rebalance", "--keep-together", "nosuchkey"], "nosuchkey"),
    (["data", "gc", "--min-age", "-1"], "age"),
    (["data", "ls", "--layer", "bogus"], "layer"),
    (["data", "versions", "--layer", "bogus"], "layer"),
    (["data", "snapshot", "-m", "x", "--layer", "bogus"], "layer"),
    # impulse / features / learn
    (["impulse", "set", "novalue"], "novalue"),
    (["impulse", "set", "input.window_size_ms=Infinity"], "window_size_ms"),
    (["impulse", "set", "input.window_size_ms=1e12"], "window_size_ms"),
    (["impulse", "set", "learning.params.epochs=-1"], "epochs"),
    (["impulse", "set", "learning.type=bogus"], "learning.type"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dense", "units": -3}]'], "units"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dense", "units": 8, "activation": [1]}]'], "activation"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dropout", "rate": "abc"}]'], "rate"),
    (["impulse", "create", "--window-size-ms", "-1"], "window"),
    (["impulse", "create", "--window-size-ms", "1e12"], "window"),
    (["impulse", "create", "--window-increase-ms", "0"], "window"),
    (["impulse", "create", "--block", "nosuchblock"], "nosuchblock"),
    (["features", "generate", "--workers", "-2"], "workers"),
    (["features", "generate", "--category", "bogus"], "category"),
    (["features", "explore", "--method", "bogus"], "method"),
    (["features", "explore", "--html", "{notdir}/f.html"], "sub"),
    (["train", "--epochs", "-1"], "epochs"),
    (["train", "--lr", "-1"], "learning_rate"),
    (["train", "--batch-size", "0"], "batch"),
    (["train", "--learning", "bogus"], "bogus"),
    (["test", "--run", "nope"], "nope"),
    (["test", "--variant", "bogus"], "variant"),
    (["test", "--uncertain-below", "7"], "uncertain"),
    (["runs", "show", "nope"], "nope"),
    (["runs", "report", "nope"], "nope"),
    (["runs", "compare", "nope", "nope2"], "nope"),
    (["runs", "ls", "--limit", "-1"], "limit"),
    (["init", "{notdir}/p"], "sub"),
    (["init", "{base}/out_i1", "--member", "bad name!"], "member"),
    (["init", "{base}/out_i2", "--persona", "wizard"], "persona"),
    (["init", "{base}/out_i3", "--metadata-url", "nosuchdb://x"], "metadata"),
]


def _fill(args: list[str], work: dict[str, Path]) -> list[str]:
    subst = {"{bad}": str(work["bad"]), "{nope}": str(work["base"] / "nonexistent"), "{kws}": str(KWS),
             "{notdir}": str(work["bad"] / "empty.zip" / "sub"), "{base}": str(work["base"])}
    out = []
    for a in args:
        for k, v in subst.items():
            a = a.replace(k, v)
        out.append(a)
    return out


@pytest.mark.parametrize(("args", "names"), [pytest.param(a, n, id=" ".join(a)) for a, n in MALFORMED])
def test_malformed_input_fails_cleanly(work: dict[str, Path], run_cli, args, names) -> None:  # type: ignore[no-untyped-def]
    argv = _fill(args, work)
    root = work["full"]
    before = _state(root)
    base_before = sorted(os.listdir(work["base"]))
    code, out, err = run_cli(argv, cwd=root)
    _clean(code, out, err, argv)
    assert code != 0, f"eml {' '.join(argv)} accepted bad input\n{out}\n{err}"
    assert _fill([names], work)[0].lower() in err.lower(), f"message does not name {names!r}: {err}"
    assert _state(root) == before, f"eml {' '.join(argv)} failed but changed the project"
    assert sorted(os.listdir(work["base"])) == base_before, "a failing command left an output behind"


_KV = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@pytest.mark.parametrize("group", ["requirements", "impulse"])
def test_random_key_value_pairs(work: dict[str, Path], run_cli, group: str) -> None:  # type: ignore[no-untyped-def]
    """Random KEY=VALUE strings never crash ``eml requirements set`` / ``eml impulse set``."""
    root = work["full"]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(key=_KV, sep=st.sampled_from(["=", ">=", "<=", "", "=="]), value=_KV)
    def check(key: str, sep: str, value: str) -> None:
        argv = [group, "set", f"{key}{sep}{value}"]
        before = _state(root)
        code, out, err = run_cli(argv, cwd=root)
        _clean(code, out, err, argv)
        if code != 0:
            assert _state(root) == before, f"eml {argv} failed but changed the project"

    check()


def test_commands_close_the_database_when_they_return(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """No connection outlives a command: SQLite's write-ahead log is checkpointed and gone on return.

    A connection left for the garbage collector later checkpoints its log over whatever the file holds
    by then, which made the damaged-database case below flaky in CI.
    """
    root = tmp_path / "p"
    for argv, cwd in ((["init", str(root), "--member", "tester"], tmp_path), (["data", "ls"], root),
                      (["status"], root)):
        code, _, err = run_cli(argv, cwd=cwd)
        assert code == 0, err
        assert sorted(p.name for p in root.glob(".eml/metadata.db*")) == ["metadata.db"], argv


@pytest.mark.parametrize(("what", "damage", "names"), [
    ("eml.toml", b"\xdc\xff random bytes \x00", "eml.toml"),
    ("eml.toml", b"store = 5\n", "store"),
    ("eml.toml", b"[store]\nblob_url = 5\n", "[store] blob_url"),
    ("eml.toml", b'[store]\nblob_url = "nosuch://zz"\n', "nosuch://zz"),
    ("eml.toml", b'[store]\nmetadata_url = "nosuchdb://x"\n', "metadata_url"),
    (".eml/metadata.db", b"not a database" * 400, "metadata database"),
])
def test_damaged_project_is_a_project_error(tmp_path: Path, run_cli, what: str, damage: bytes,  # type: ignore[no-untyped-def]
                                            names: str) -> None:
    """A damaged eml.toml or database is a ProjectError (exit 5) naming what is wrong, on every command."""
    root = tmp_path / "p"
    code, _, err = run_cli(["init", str(root), "--member", "tester"], cwd=tmp_path)
    assert code == 0, err
    for extra in root.glob(".eml/metadata.db-*"):
        extra.unlink()
    (root / what).write_bytes(damage)
    for argv in (["data", "ls"], ["status"], ["impulse", "show"], ["models", "ls"]):
        code, out, err = run_cli(argv, cwd=root)
        _clean(code, out, err, argv)
        assert code == 5, f"eml {' '.join(argv)} -> {code}: {err}"
        assert names in err, err


def test_nan_features_are_named_not_crashed_on(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A sample with NaN/Inf values (ingest keeps it, quality checks flag it) must not crash the explorer."""
    root = tmp_path / "p"
    assert run_cli(["init", str(root), "--member", "tester"], cwd=tmp_path)[0] == 0
    rows = "\n".join(f"{i * 100},{'nan' if i % 7 == 3 else i % 5},{i % 3}" for i in range(40))
    (tmp_path / "glitch.01.csv").write_text("timestamp,accX,accY\n" + rows + "\n")
    (tmp_path / "calm.01.csv").write_text("timestamp,accX,accY\n" + "\n".join(
        f"{i * 100},{i % 4},{i % 2}" for i in range(40)) + "\n")
    for argv in (["ingest", str(tmp_path / "glitch.01.csv"), str(tmp_path / "calm.01.csv")], ["impulse", "create"]):
        code, out, err = run_cli(argv, cwd=root)
        assert code == 0, err
    listing = json.loads(run_cli(["data", "ls", "--json"], cwd=root)[1])
    glitch = next(s["id"] for s in listing if s["name"] == "glitch.01")
    for method in ("pca", "tsne"):
        argv = ["features", "explore", "--method", method, "--html", str(tmp_path / "x.html")]
        code, out, err = run_cli(argv, cwd=root)
        _clean(code, out, err, argv)
        assert code == 2 and glitch in err, err
        assert not (tmp_path / "x.html").exists()

"""No traceback ever reaches a user: every ``eml`` command, fed bad input, fails cleanly.

Every command is walked from the Typer app (as ``scripts/gen_cli_docs.py`` does) and run in-process in
(a) a folder with no project and (b) a fresh, empty project; then (c) a table of malformed inputs
(random bytes as model/data files, truncated real files, bad ``KEY=VALUE`` pairs, unknown model URIs and
sample ids, bad targets, absurd numbers, unwritable output paths) runs against a project holding two
real samples, the imported MLPerf Tiny keyword model, a compiled library of it and a passing gate for
cortex-m4f-80mhz (so ``deploy`` rows reach the input they name instead of stopping at the gate). The rules
checked (DESIGN.md):

* the exit code is never 70 (the CLI's "internal error, this is a bug" code); in (a) it is ProjectError's;
  in (c) it is the exit code of the error class the row expects (InputError 2, NotFoundError 3, ...);
* stderr holds no ``Traceback`` and, for (c), says why (a fragment of the reason) and names the offending
  input: the full path of the file, the ``field '...'`` or the quoted value refused;
* nothing is half-written: row counts of every table, blob count and the files outside ``.eml`` are
  unchanged and no output path is left.

No command trains: the only model is imported, so every command runs in well under a second.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tflite_patch
from crisp_eml.core.errors import EmlError, InputError, NotFoundError, ProjectError

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
INTERNAL_ERROR = 70

#: Commands that succeed without a project (everything else must fail with a "project" message).
NO_PROJECT_OK = {("init",), ("version",), ("targets",), ("formats",), ("dsp", "blocks")}
#: Commands that read a file argument and need no project: they fail on the placeholder file instead.
FILE_FIRST = {("inspect",), ("profile",), ("verify",), ("compile",), ("bundle", "verify"), ("data", "label"),
              ("run",)}
#: Commands left out of the no-project / empty-project sweeps, and why.
SWEEP_EXCLUDED = {
    ("init",): "creates a project in the current folder by design (covered by its own malformed cases)",
    ("data", "synth"): "writes synthetic files without a project by design (image engineer's area)",
    ("capture", "serial"): "records from the one USB serial port there is (--port auto) until its samples are "
                           "done: blocks where a board is plugged in (tests/capture/ drives it on a pseudo-terminal; "
                           "its bad options are in the table below)",
    ("serve",): "serves until stopped by design (tests/server/test_graceful_shutdown.py runs it; its bad options "
                "are in the table below)",
    ("dsp", "serve"): "serves one processing block over HTTP until stopped, needing no project by design "
                      "(tests/e2e/test_dsp_serve.py runs it; its bad options are in the table below)",
    ("agent",): "serves a server's capture requests until stopped, retrying while the server is away "
                "(tests/capture/test_agent_loopback.py runs it; its bad options are in the table below)",
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


def _state(root: Path) -> tuple[dict[str, int], int, list[str]]:
    """({table: rows} for every table, blobs, files outside .eml) of a project, read without crisp-eml.

    Every table, not only samples and audit: a refused ``models import`` of an already stored file adds no
    blob, only model rows."""
    con = sqlite3.connect(root / ".eml" / "metadata.db")
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        rows = {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()
    assert "samples" in rows and "audit_log" in rows and "model_versions" in rows, tables
    blobs = sum(1 for p in (root / ".eml" / "blobs").rglob("*") if p.is_file())
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".eml" not in p.relative_to(root).parts)
    return rows, blobs, files


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
        (bad / f"random.{ext}").write_bytes(rnd + ext.encode())  # distinct bytes: each could be a new blob
        (bad / f"empty.{ext}").write_bytes(b"")
    (bad / "truncated.tflite").write_bytes(KWS.read_bytes()[:3000])
    # KWS patched field by field: float activations; one per-channel weight scale of 1.18e38
    kws = KWS.read_bytes()
    (bad / "float.tflite").write_bytes(tflite_patch.activations_as(kws, 0))
    (bad / "huge_scale.tflite").write_bytes(tflite_patch.set_scale(kws, tflite_patch.per_channel_tensor(kws), 1,
                                                                   1.18e38))
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
            # a passing gate for cortex-m4 (and a compiled library), so deploy rows get past the gate to their input
            ["requirements", "set", "min_samples_per_class=1"],
            ["compile", "--model", "models:/kws/1", "-o", str(base / "kws_lib"), "--vectors", "0"],
            ["gate", "models:/kws/1", "--target", "cortex-m4"],
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
            assert code == ProjectError.exit_code and "project" in err.lower(), f"{argv} -> {code}: {err}"
    assert sorted(os.listdir(work["noproj"])) == [], "left files in a folder without a project"

    before = _state(work["empty"])
    code, out, err = run_cli(argv, cwd=work["empty"])
    _clean(code, out, err, argv)
    if code != 0:
        assert _state(work["empty"]) == before, f"eml {' '.join(argv)} failed but changed the project"


# Shorthands for the error classes the table expects (``exit_code`` is what ``eml`` returns). USAGE is a click
# usage error (an option value Typer cannot convert), which ``main`` also exits 2 with.
INPUT, NOT_FOUND, PROJECT, USAGE = InputError, NotFoundError, ProjectError, click.UsageError
ErrorClass = type[EmlError] | type[click.UsageError]

#: (args, error class, what names the input, why it was refused). {bad}, {nope}, {notdir}, {kws}, {base} are
#: substituted in all three strings, so a path in ``named`` is the full path of the file refused. ``named`` is
#: the file, the ``field '...'`` or the quoted value the message must name; ``why`` a fragment of the reason.
MALFORMED: list[tuple[list[str], ErrorClass, str, str]] = [
    # ingest: nonexistent, empty, random bytes, truncated, bad metadata / options
    (["ingest", "{nope}/a.csv"], INPUT, "{nope}/a.csv", "no such file"),
    (["ingest", "{bad}/random.csv"], INPUT, "{bad}/random.csv", "not UTF-8"),
    (["ingest", "{bad}/random.wav"], INPUT, "{bad}/random.wav", "not a RIFF/WAVE"),
    (["ingest", "{bad}/random.json"], INPUT, "{bad}/random.json", "bad JSON"),
    (["ingest", "{bad}/random.cbor"], INPUT, "{bad}/random.cbor", "must be an object"),
    (["ingest", "{bad}/random.png"], INPUT, "{bad}/random.png", "unreadable image"),
    (["ingest", "{bad}/empty.csv"], INPUT, "{bad}/empty.csv", "empty file"),
    (["ingest", "{bad}/empty.wav"], INPUT, "{bad}/empty.wav", "not a RIFF/WAVE"),
    (["ingest", "{bad}/empty.json"], INPUT, "{bad}/empty.json", "bad JSON"),
    (["ingest", "{bad}/empty.cbor"], INPUT, "{bad}/empty.cbor", "bad CBOR"),
    (["ingest", "{bad}/empty.png"], INPUT, "{bad}/empty.png", "unreadable image"),
    (["ingest", "{bad}/header_only.csv"], INPUT, "{bad}/header_only.csv", "no data rows"),
    (["ingest", "{bad}/text.csv"], INPUT, "{bad}/text.csv", "numeric column 'a'"),
    (["ingest", "{bad}/list.json"], INPUT, "{bad}/list.json", "must be an object"),
    (["ingest", "{bad}/obj.json"], INPUT, "{bad}/obj.json", "unsupported alg"),
    (["ingest", "{bad}/random.zip"], INPUT, "{bad}/random.zip", "unsupported file type '.zip'"),
    # a good file with a bad option: the option is refused before the file is stored
    (["ingest", "{walking2}", "--metadata", "novalue"], INPUT, "field 'metadata'", "got 'novalue'"),
    (["ingest", "{walking2}", "--frequency", "-5"], INPUT, "field 'frequency'", "absurd frequency -5"),
    (["ingest", "{walking2}", "--frequency", "1e308"], INPUT, "field 'frequency'", "absurd frequency 1e+308"),
    (["ingest", "{walking2}", "--category", "bogus"], INPUT, "field 'category'", "got 'bogus'"),
    # capture serial: bad options are refused before the port is opened; a missing port names itself
    (["capture", "serial", "--label", "x", "--frequency", "fast"], INPUT, "field 'frequency'",
     "expected 'auto' or a rate in Hz"),
    (["capture", "serial", "--label", "x", "--axes", "a,,b"], INPUT, "field 'axes'", "empty axis name"),
    (["capture", "serial", "--label", "x", "--length-ms", "0"], INPUT, "field 'length-ms'", "positive number of ms"),
    (["capture", "serial", "--label", "x", "--port", "{nope}/ttyACM0"], INPUT, "{nope}/ttyACM0",
     "cannot open the serial port"),
    # models / registry
    (["models", "import", "{nope}/m.tflite", "--name", "m"], INPUT, "{nope}/m.tflite", "file not found"),
    (["models", "import", "{bad}/random.tflite", "--name", "m"], INPUT, "{bad}/random.tflite", "not a TFLite"),
    (["models", "import", "{bad}/empty.tflite", "--name", "m"], INPUT, "{bad}/empty.tflite", "not a TFLite"),
    (["models", "import", "{bad}/truncated.tflite", "--name", "m"], INPUT, "{bad}/truncated.tflite",
     "not a valid TFLite model"),
    (["models", "import", "{kws}", "--name", "bad name!"], INPUT, "field 'name'", "model names use letters"),
    (["models", "import", "{kws}", "--name", "m2", "--labels", "a,b"], INPUT, "field 'labels'",
     "12 outputs but 2 labels"),
    (["models", "import", "{kws}", "--name", "m2", "--task", "bogus"], INPUT, "field 'task'", "unknown task 'bogus'"),
    (["models", "show", "models:/nope@production"], NOT_FOUND, "'nope'", "no model named"),
    (["models", "show", "models:/kws/999"], NOT_FOUND, "model 'kws'", "has no version 999"),
    (["models", "show", "models:/x/999"], NOT_FOUND, "'x'", "no model named"),
    (["models", "show", "not-a-uri"], NOT_FOUND, "'not-a-uri'", "no model named"),
    (["models", "show", "models:/"], INPUT, "'models:/'", "not a model URI"),
    (["models", "show", "models:/kws/-1"], INPUT, "'models:/kws/-1'", "not a model URI"),
    (["models", "lineage", "models:/nope@production"], NOT_FOUND, "'nope'", "no model named"),
    (["models", "lineage", "not-a-uri"], NOT_FOUND, "'not-a-uri'", "no model named"),
    (["models", "register", "m", "--run", "nope"], NOT_FOUND, "'nope'", "no run with id"),
    (["models", "alias", "set", "kws", "production", "999"], NOT_FOUND, "model 'kws'", "has no version 999"),
    (["models", "alias", "set", "kws", "production", "abc"], USAGE, "'version'", "Invalid value"),
    (["models", "alias", "set", "nope", "production", "1"], NOT_FOUND, "'nope'", "no model named"),
    (["models", "alias", "set", "kws", "bad alias!", "1"], INPUT, "field 'alias'", "aliases start with a letter"),
    (["models", "alias", "history", "nope"], NOT_FOUND, "'nope'", "no model named"),
    (["models", "ls", "nope"], NOT_FOUND, "'nope'", "no model named"),
    # compiler
    (["inspect", "{nope}/m.tflite"], INPUT, "{nope}/m.tflite", "cannot read model"),
    (["inspect", "{bad}/random.tflite"], INPUT, "{bad}/random.tflite", "not a TFLite model"),
    (["inspect", "{bad}/empty.tflite"], INPUT, "{bad}/empty.tflite", "not a TFLite model"),
    (["inspect", "{bad}/truncated.tflite"], INPUT, "{bad}/truncated.tflite", "truncated TFLite model"),
    (["inspect", "{bad}/random.png"], INPUT, "{bad}/random.png", "not a TFLite model"),
    (["compile", "{bad}/random.tflite", "-o", "{base}/out_c1"], INPUT, "{bad}/random.tflite", "not a TFLite model"),
    (["compile", "{bad}/truncated.tflite", "-o", "{base}/out_c2"], INPUT, "{bad}/truncated.tflite",
     "truncated TFLite model"),
    (["compile", "{nope}/m.tflite", "-o", "{base}/out_c3"], INPUT, "{nope}/m.tflite", "cannot read model"),
    (["compile", "{bad}/float.tflite", "-o", "{base}/out_c13"], INPUT, "{bad}/float.tflite",
     "float model: operator 0 (CONV_2D) computes in float32"),
    (["compile", "{bad}/huge_scale.tflite", "-o", "{base}/out_c14"], INPUT,
     "{bad}/huge_scale.tflite: field 'quantization.scale'", "scale[1] = 1.18e+38 is not a finite number in"),
    (["inspect", "{bad}/huge_scale.tflite"], INPUT, "{bad}/huge_scale.tflite", "scale[1] = 1.18e+38"),
    (["compile", "--model", "models:/nope@production", "-o", "{base}/out_c4"], NOT_FOUND, "'nope'", "no model named"),
    (["compile", "--model", "not-a-uri", "-o", "{base}/out_c5"], INPUT, "field 'model'", "not a model URI"),
    (["compile", "{kws}", "-o", "{notdir}/lib"], INPUT, "{notdir}: field 'output'", "cannot create the folder"),
    (["compile", "{kws}", "-o", "{base}/out_c6", "--vectors", "-3"], INPUT, "field 'vectors'", "got -3"),
    (["compile", "{kws}", "-o", "{base}/out_c7", "--labels", ",,"], INPUT, "field 'labels'",
     "3 labels given but the model has 12 outputs"),
    (["compile", "{kws}", "-o", "{base}/out_c9", "--vectors", "100000000"], INPUT, "field 'vectors'",
     "got 100000000"),
    (["compile", "{kws}", "-o", "{base}/out_c10", "--format", "vhdl"], INPUT, "field 'format'",
     "unknown format 'vhdl'; one of c, arduino"),
    (["compile", "{kws}", "-o", "{base}/out_c11", "--format", "eim", "--arch", "sparc"], INPUT, "field 'arch'",
     "unknown architecture 'sparc'; one of x86_64, aarch64"),
    (["compile", "{kws}", "-o", "{notdir}/m.eim", "--format", "eim"], INPUT, "{notdir}: field 'output'",
     "cannot create the folder"),
    (["compile", "{bad}/random.tflite", "-o", "{base}/out_c12", "--format", "linux"], INPUT,
     "{bad}/random.tflite", "not a TFLite model"),
    (["compile", "{kws}", "-o", "{base}/out_c15", "--optimize", "fast"], INPUT, "field '--optimize'",
     "'fast' is not an optimisation goal; use one of ram, balanced, speed"),
    (["compile", "{kws}", "-o", "{base}/out_c16", "--optimize", "all"], INPUT, "field '--optimize'",
     "'all' is not an optimisation goal"),
    (["compile", "{kws}", "-o", "{base}/out_c17.eim", "--format", "eim", "--optimize", "speed"], INPUT,
     "field '--optimize'", "use it with --format c"),
    (["verify", "{nope}/lib"], INPUT, "{nope}/lib", "not a generated library"),
    (["verify", "{bad}"], INPUT, "{bad}:", "not a generated library"),
    (["verify", "{bad}/random.zip"], INPUT, "{bad}/random.zip", "not a generated library"),
    (["verify", "{bad}/lib_nokeys"], INPUT, "{bad}/lib_nokeys/MANIFEST.json", "malformed inputs/outputs"),
    (["verify", "{bad}/lib_notjson"], INPUT, "{bad}/lib_notjson", "MANIFEST.json missing or unreadable"),
    (["verify", "{bad}/lib_list"], INPUT, "{bad}/lib_list", "MANIFEST.json missing or unreadable"),
    (["verify", "{bad}/lib_badshape"], INPUT, "{bad}/lib_badshape/MANIFEST.json", "malformed inputs/outputs"),
    (["profile", "{bad}/lib_nokeys"], INPUT, "{bad}/lib_nokeys/MANIFEST.json", "malformed inputs/outputs"),
    (["profile", "{bad}/lib_notjson"], INPUT, "{bad}/lib_notjson", "MANIFEST.json missing or unreadable"),
    (["profile", "{bad}/lib_list"], INPUT, "{bad}/lib_list/MANIFEST.json", "not a JSON object"),
    (["profile", "{bad}/lib_badshape"], INPUT, "{bad}/lib_badshape/MANIFEST.json", "malformed inputs/outputs"),
    (["profile", "{nope}/lib"], INPUT, "{nope}/lib", "cannot read model"),
    (["profile", "{bad}/random.tflite"], INPUT, "{bad}/random.tflite", "not a TFLite model"),
    (["profile", "{bad}/truncated.tflite"], INPUT, "{bad}/truncated.tflite", "truncated TFLite model"),
    (["profile", "{kws}", "--target", "no-such-board"], INPUT, "field 'target'",
     "unknown target device 'no-such-board'; known: cortex-m0plus-48mhz"),
    (["profile", "{kws}", "--target", "linux"], INPUT, "field 'target'",
     "did you mean 'linux-x86_64' or 'linux-aarch64'? ('eml targets' lists them)"),
    (["profile", "models:/nope@production"], NOT_FOUND, "'nope'", "no model named"),
    (["profile", "{kws}", "--optimize", "Speed"], INPUT, "field '--optimize'",
     "'Speed' is not an optimisation goal; use one of ram, balanced, speed or all"),
    (["profile", "{base}/kws_lib", "--optimize", "speed"], INPUT, "{base}/kws_lib: field '--optimize'",
     "this library was compiled with --optimize balanced"),
    (["profile", "{base}/kws_lib", "--optimize", "all"], INPUT, "field '--optimize'",
     "compiles the model once per mode; give the model"),
    # calibrate (the imported kws model has no impulse: options are refused before the model is looked at)
    (["calibrate", "models:/nope/1"], NOT_FOUND, "'nope'", "no model named"),
    (["calibrate", "models:/kws/1"], INPUT, "field 'model'", "has no impulse (DSP)"),
    (["calibrate", "models:/kws/1", "--hours", "0"], INPUT, "field 'hours'", "got 0"),
    (["calibrate", "models:/kws/1", "--hours", "100"], INPUT, "field 'hours'", "at most 4.0"),
    (["calibrate", "models:/kws/1", "--max-frr", "2"], INPUT, "field 'max-frr'", "between 0 and 1, got 2"),
    (["calibrate", "models:/kws/1", "--max-far-per-hour", "-1"], INPUT, "field 'max-far-per-hour'", "got -1"),
    (["calibrate", "models:/kws/1", "--report", "{notdir}/c.html"], INPUT, "{notdir}/c.html", "is not a folder"),
    # lifecycle (the fixture's models:/kws/1 passed its gate for cortex-m4f-80mhz, so deploy gets past the gate)
    (["gate", "models:/nope@production"], NOT_FOUND, "'nope'", "no model named 'nope' (registered models: kws;"),
    (["gate", "models:/kws@nosuchalias"], NOT_FOUND, "model 'kws'", "has no alias 'nosuchalias'"),
    (["gate", "not-a-uri"], NOT_FOUND, "'not-a-uri'", "no model named"),
    (["gate", "models:/kws/1", "--target", "no-such-board"], INPUT, "field 'target'",
     "unknown target device 'no-such-board'; known: cortex-m0plus-48mhz"),
    (["gate", "models:/kws/1", "--target", "cortex-m44"], INPUT, "field 'target'", "did you mean 'cortex-m4'"),
    (["gate", "models:/kws/1", "--library", "{nope}/lib"], INPUT, "{nope}/lib:", "no MANIFEST.json"),
    (["gate", "models:/kws/1", "--library", "{bad}/lib_nokeys"], INPUT, "{bad}/lib_nokeys/MANIFEST.json",
     "'arena_bytes' is missing"),
    (["gate", "models:/kws/1", "--library", "{bad}/lib_notjson"], INPUT, "{bad}/lib_notjson/MANIFEST.json",
     "unreadable MANIFEST.json"),
    (["gate", "models:/kws/1", "--library", "{bad}/lib_list"], INPUT, "{bad}/lib_list/MANIFEST.json",
     "is not an object"),
    (["gate", "models:/kws/1", "--library", "{bad}/lib_neg"], INPUT, "{bad}/lib_neg/MANIFEST.json",
     "'arena_bytes' is -1"),
    (["gate", "models:/kws/1", "--library", "{bad}/lib_badflash"], INPUT, "{bad}/lib_badflash/MANIFEST.json",
     "'flash_bytes' is -3"),
    (["gate", "models:/kws/1", "--profile"], INPUT, "field 'profile'", "needs --library"),
    (["gate", "models:/kws/1", "--profile", "--target", "cortex-m4", "--library", "{bad}/random.json"], INPUT,
     "{bad}/random.json", "unreadable MANIFEST.json"),
    (["deploy", "models:/x/999", "--target", "cortex-m4", "-o", "{base}/out_d1"], NOT_FOUND, "'x'",
     "no model named 'x' (registered models: kws;"),
    (["deploy", "models:/kws/999", "--target", "cortex-m4", "-o", "{base}/out_d4"], NOT_FOUND, "model 'kws'",
     "has no version 999"),
    (["deploy", "models:/kws/1", "--target", "no-such-board", "-o", "{base}/out_d2"], INPUT, "field 'target'",
     "unknown target device 'no-such-board'; known: cortex-m0plus-48mhz"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{base}/out_d5", "--format", "vhdl"], INPUT,
     "field 'format'", "unknown format 'vhdl'"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{base}/out_d6", "--format", "wasm", "--arch",
      "aarch64"], INPUT, "field 'arch'", "does not depend on the CPU architecture"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{notdir}/b.bundle"], INPUT, "{notdir}: field 'output'",
     "cannot create the folder"),
    (["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "{base}/out_d3", "--library", "{nope}/lib"], INPUT,
     "{nope}/lib:", "no MANIFEST.json"),
    (["bundle", "verify", "{nope}/b.bundle"], INPUT, "{nope}/b.bundle", "cannot read bundle"),
    (["bundle", "verify", "{bad}/random.bundle"], INPUT, "{bad}/random.bundle", "not a readable bundle zip"),
    (["bundle", "verify", "{bad}/empty.bundle"], INPUT, "{bad}/empty.bundle", "not a readable bundle zip"),
    (["bundle", "verify", "{bad}/random.zip"], INPUT, "{bad}/random.zip", "not a readable bundle zip"),
    (["requirements", "set", "novalue"], INPUT, "got 'novalue'", "expected KEY=VALUE"),
    (["requirements", "set", "accuracy=high"], INPUT, "field 'accuracy'", "expected a number, got 'high'"),
    (["requirements", "set", "nosuchkpi>=3"], INPUT, "'nosuchkpi>=3'", "use nosuchkpi=3"),
    (["requirements", "set", "min_accuracy>=0.9"], INPUT, "'min_accuracy>=0.9'",
     "requirements are KEY=VALUE and the comparison comes from the KPI (min_accuracy means measured >= VALUE)"),
    (["requirements", "set", "target=cortex-m44"], INPUT, "field 'target'", "did you mean 'cortex-m4'"),
    (["requirements", "set", "=3"], INPUT, "got '=3'", "expected KEY=VALUE"),
    (["members", "add", "bad name!", "--persona", "data-scientist"], INPUT, "field 'name'", "member names use"),
    (["members", "add", "bob", "--persona", "wizard"], INPUT, "field 'persona'", "unknown persona 'wizard'"),
    (["members", "rm", "nobody"], NOT_FOUND, "'nobody'", "is not a member"),
    # server credentials and eml serve
    (["members", "token", "create", "nobody"], NOT_FOUND, "'nobody'", "is not a member"),
    (["members", "token", "create", "nobody", "--scope", "fly"], INPUT, "field 'scope'", "unknown scope 'fly'"),
    (["members", "token", "create", "nobody", "--expires", "0"], INPUT, "field 'expires'", "between 0 and"),
    (["members", "login-url", "nobody"], NOT_FOUND, "'nobody'", "is not a member"),
    (["members", "login-url", "nobody", "--ttl", "0"], INPUT, "field 'ttl'", "between 0 and"),
    (["members", "token", "revoke", "abc"], NOT_FOUND, "'abc'", "no API token"),
    (["ingest-key", "revoke", "abc"], NOT_FOUND, "'abc'", "no ingestion key"),
    (["ingest-key", "create", "--name", " "], INPUT, "field 'name'", "1 to 128 characters"),
    (["devices", "add", "bad name!"], INPUT, "field 'name'", "device names use letters"),
    (["devices", "add", "pi", "--kind", "serial"], INPUT, "field 'kind'", "got 'serial'"),
    (["devices", "rm", "nope"], NOT_FOUND, "'nope'", "no device"),
    (["devices", "capture", "nope", "--label", "x", "--length-ms", "100"], NOT_FOUND, "'nope'", "no device"),
    (["devices", "capture", "nope", "--label", "x", "--length-ms", "0"], INPUT, "field 'length_ms'", "got 0"),
    # eml agent: everything is checked before it connects (the server below would refuse connections)
    (["agent", "--server", "http://127.0.0.1:9", "--key", "eml_d_x_y", "--source", "bogus:x"], INPUT,
     "field 'source'", "unknown source 'bogus:x'"),
    (["agent", "--server", "http://127.0.0.1:9", "--key", "eml_d_x_y", "--source", "iio:{nope}/iio"], INPUT,
     "'{nope}/iio'", "no IIO device folder"),
    (["agent", "--server", "http://127.0.0.1:9", "--key-file", "{nope}/key", "--source", "cmd:true"], INPUT,
     "{nope}/key", "cannot read the key file"),
    (["agent", "--server", "ftp://x", "--key", "eml_d_x_y", "--source", "cmd:true"], INPUT, "field 'server'",
     "must start with http://"),
    (["agent", "--server", "http://127.0.0.1:9", "--key", "eml_d_x_y", "--source", "cmd:true", "--poll-wait", "0"],
     INPUT, "field 'poll-wait'", "between 1 and 25"),
    (["devices", "capture", "nope", "--label", "x", "--length-ms", "9", "--category", "bogus"], INPUT,
     "field 'category'", "got 'bogus'"),
    (["devices", "capture", "nope", "--label", "x", "--length-ms", "9", "--timeout", "-1"], INPUT,
     "field 'timeout'", "got -1"),
    (["serve", "--host", "0.0.0.0"], INPUT, "field '--host'", "not a loopback address"),
    (["serve", "--tls-cert", "{nope}/c.pem"], INPUT, "field '--tls-key'", "give both --tls-cert and --tls-key"),
    (["serve", "--tls-cert", "{nope}/c.pem", "--tls-key", "{nope}/k.pem"], INPUT, "{nope}/c.pem", "no such file"),
    (["serve", "--workers", "0"], INPUT, "field '--workers'", "between 1 and 64"),
    (["serve", "--port", "70000"], INPUT, "field '--port'", "between 0 and 65535"),
    (["dsp", "serve", "bogus"], INPUT, "field 'block'", "no Edge Impulse DSP block"),
    (["dsp", "serve", "raw", "--port", "70000"], INPUT, "field '--port'", "between 0 and 65535"),
    (["impulse", "create", "--block-url", "ftp://x"], INPUT, "field 'url'", "not an http(s) URL"),
    (["impulse", "create", "--block-url", "http://127.0.0.1:9"], INPUT, "http://127.0.0.1:9", "cannot be reached"),
    (["report", "-o", "{notdir}/r.html"], INPUT, "{notdir}/r.html", "cannot create the folder"),
    (["report", "-o", "{base}/out_r2.html", "--model", "models:/nope@production"], NOT_FOUND, "'nope'",
     "no model named"),
    (["report", "--model", "not-a-uri", "-o", "{base}/out_r.html"], NOT_FOUND, "'not-a-uri'",
     "no model named"),
    (["audit", "log", "--limit", "-1"], INPUT, "field 'limit'", "got -1"),
    # data
    (["data", "show", "nope"], NOT_FOUND, "'nope'", "no sample with id or name"),
    (["data", "rm", "nope"], NOT_FOUND, "'nope'", "no sample with id or name"),
    (["data", "label", "nope", "x"], NOT_FOUND, "'nope'", "no sample with id or name"),
    (["data", "label", "walking.01", "--category", "bogus"], INPUT, "field 'category'", "unknown category 'bogus'"),
    (["data", "diff", "999", "998"], NOT_FOUND, "version 999", "no dataset version"),
    (["data", "restore", "999"], NOT_FOUND, "version 999", "no dataset version"),
    (["data", "version", "show", "999"], NOT_FOUND, "version 999", "no dataset version"),
    (["data", "export", "{notdir}/exp"], INPUT, "{notdir}/exp", "cannot create the folder"),
    (["data", "export", "{base}/out_e1", "--format", "bogus"], INPUT, "field 'format'",
     "unknown export format 'bogus'"),
    (["data", "export", "{base}/out_e2", "--version", "999"], NOT_FOUND, "version 999", "no dataset version"),
    (["data", "check", "--window-ms", "-5"], INPUT, "field 'window-ms'", "got -5"),
    (["data", "check", "--html", "{notdir}/q.html"], INPUT, "{notdir}/q.html", "does not exist"),
    (["data", "check", "--layer", "bogus"], INPUT, "field 'layer'", "unknown layer 'bogus'"),
    (["data", "check", "--fail-below", "-3"], INPUT, "field 'fail-below'", "got -3"),
    (["data", "clean", "--resample", "-10"], INPUT, "field 'resample'", "got -10"),
    (["data", "clean", "--window-ms", "0"], INPUT, "field 'window-ms'", "got 0"),
    (["data", "rebalance", "--test-fraction", "5"], INPUT, "field 'test-fraction'", "between 0 and 1, got 5"),
    (["data", "rebalance", "--test-fraction", "-0.5"], INPUT, "field 'test-fraction'", "between 0 and 1, got -0.5"),
    (["data", "rebalance", "--keep-together", "nosuchkey"], INPUT, "field 'keep-together'",
     "no sample has metadata key 'nosuchkey'"),
    (["data", "gc", "--min-age", "-1"], INPUT, "field 'min-age'", "got -1"),
    (["data", "ls", "--layer", "bogus"], INPUT, "field 'layer'", "unknown layer 'bogus'"),
    (["data", "versions", "--layer", "bogus"], INPUT, "field 'layer'", "unknown layer 'bogus'"),
    (["data", "snapshot", "-m", "x", "--layer", "bogus"], INPUT, "field 'layer'", "unknown layer 'bogus'"),
    # impulse / features / learn
    (["impulse", "set", "novalue"], INPUT, "got 'novalue'", "expected KEY=VALUE"),
    (["impulse", "set", "input.window_size_ms=Infinity"], INPUT, "field 'input.window_size_ms'", "finite"),
    (["impulse", "set", "input.window_size_ms=1e12"], INPUT, "field 'input.window_size_ms'", "at most"),
    (["impulse", "set", "learning.params.epochs=-1"], INPUT, "field 'learning.params.epochs'", "got -1"),
    (["impulse", "set", "learning.type=bogus"], INPUT, "field 'learning.type'", "unknown learning block type 'bogus'"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dense", "units": -3}]'], INPUT,
     "field 'learning.params.layers[0]'", "units must be"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dense", "units": 8, "activation": [1]}]'], INPUT,
     "field 'learning.params.layers[0]'", "unknown activation"),
    (["impulse", "set", 'learning.params.layers=[{"type": "dropout", "rate": "abc"}]'], INPUT,
     "field 'learning.params.layers[0]'", "rate must be"),
    (["impulse", "create", "--window-size-ms", "-1"], INPUT, "field 'input.window_size_ms'", "got -1"),
    (["impulse", "create", "--window-size-ms", "1e12"], INPUT, "field 'input.window_size_ms'", "at most"),
    (["impulse", "create", "--window-increase-ms", "0"], INPUT, "field 'input.window_increase_ms'", "got 0"),
    (["impulse", "create", "--block", "nosuchblock"], INPUT, "field '--block'",
     "unknown processing block 'nosuchblock'"),
    (["features", "generate", "--workers", "-2"], INPUT, "field 'workers'", "got -2"),
    (["features", "generate", "--category", "bogus"], INPUT, "field 'category'", "unknown category 'bogus'"),
    (["features", "explore", "--method", "bogus"], INPUT, "field '--method'", "unknown method 'bogus'"),
    (["features", "explore", "--html", "{notdir}/f.html"], INPUT, "{notdir}/f.html", "not a folder"),
    (["train", "--epochs", "-1"], INPUT, "field '--epochs'", "got -1"),
    (["train", "--lr", "-1"], INPUT, "field '--learning-rate'", "got -1"),
    (["train", "--batch-size", "0"], INPUT, "field '--batch-size'", "got 0"),
    (["train", "--learning", "bogus"], INPUT, "field 'learning.type'", "unknown learning block type 'bogus'"),
    (["test", "--run", "nope"], NOT_FOUND, "'nope'", "no run with id"),
    (["test", "--variant", "bogus"], INPUT, "field 'variant'", "unknown variant 'bogus'"),
    (["test", "--uncertain-below", "7"], INPUT, "field 'uncertain-below'", "between 0 and 1"),
    (["runs", "show", "nope"], NOT_FOUND, "'nope'", "no run with id"),
    (["runs", "report", "nope"], NOT_FOUND, "'nope'", "no run with id"),
    (["runs", "compare", "nope", "nope2"], NOT_FOUND, "'nope'", "no run with id"),
    (["runs", "ls", "--limit", "-1"], INPUT, "field 'limit'", "got -1"),
    (["init", "{notdir}/p"], INPUT, "{notdir}/p", "cannot create the folder"),
    (["init", "{base}/out_i1", "--member", "bad name!"], INPUT, "field 'member'", "member names use"),
    (["init", "{base}/out_i2", "--persona", "wizard"], INPUT, "field 'persona'", "unknown persona 'wizard'"),
    (["init", "{base}/out_i3", "--metadata-url", "nosuchdb://x"], PROJECT, "metadata_url 'nosuchdb://x'",
     "is unusable"),
    # run: a model over a recording (the input file and options are refused before anything is built)
    (["run", "{base}/kws_lib", "--input", "{nope}/a.csv"], INPUT, "{nope}/a.csv", "no such file"),
    (["run", "{base}/kws_lib", "--input", "{bad}/text.csv"], INPUT, "{bad}/text.csv", "line 1: the header names 2"),
    (["run", "{base}/kws_lib", "--input", "{bad}/random.wav"], INPUT, "{bad}/random.wav", "not a RIFF/WAVE"),
    (["run", "{bad}/lib_nokeys", "--input", "{walking2}"], INPUT, "{bad}/lib_nokeys", "not a library compiled"),
    (["run", "{bad}/random.zip", "--input", "{walking2}"], INPUT, "{bad}/random.zip", "not a compiled library"),
    (["run", "{base}/kws_lib", "--input", "{walking2}", "--average", "3"], INPUT, "field 'continuous'",
     "need --continuous"),
    (["run", "{base}/kws_lib", "--input", "-", "--format", "wav"], INPUT, "field 'format'", "unknown format 'wav'"),
    (["run", "{base}/kws_lib", "--input", "{walking2}", "--continuous", "--threshold", "bogus=0.5"], INPUT,
     "'bogus'", "unknown label"),
    (["run", "{base}/kws_lib", "--input", "{walking2}", "--flag-below", "0.5"], INPUT, "field 'review_server'",
     "need --review-server"),
    (["run", "{base}/kws_lib", "--input", "{walking2}", "--review-server", "http://127.0.0.1:9", "--device-key", "k",
      "--flag-below", "0.5"], INPUT, "field 'review_server'", "takes a raw time series"),
    (["run", "{base}/kws_lib", "--input", "{walking2}", "--review-server", "http://127.0.0.1:9", "--device-key", "k",
      "--flag-below", "2"], INPUT, "field 'flag_below'", "must be a probability"),
    # data review: the field-data review queue
    (["data", "review", "show", "nope"], NOT_FOUND, "'nope'", "no review item with id"),
    (["data", "review", "label", "nope", "--label", "x"], NOT_FOUND, "'nope'", "no review item with id"),
    (["data", "review", "label", "nope", "--label", "x", "--category", "bogus"], INPUT, "field 'category'",
     "must be one of training"),
    (["data", "review", "dismiss", "nope"], NOT_FOUND, "'nope'", "no review item with id"),
    (["data", "review", "ls", "--status", "bogus"], INPUT, "field 'status'", "unknown status 'bogus'"),
    (["data", "review", "ls", "--limit", "0"], INPUT, "field 'limit'", "got 0"),
    (["data", "review", "ls", "--page-token", "zz"], INPUT, "field 'page_token'", "not a page token"),
    (["data", "review", "commit", "-m", "x"], INPUT, "field 'review'", "nothing to commit"),
]


def _fill(args: list[str], work: dict[str, Path]) -> list[str]:
    subst = {"{bad}": str(work["bad"]), "{nope}": str(work["base"] / "nonexistent"), "{kws}": str(KWS),
             "{notdir}": str(work["bad"] / "empty.zip" / "sub"), "{base}": str(work["base"]),
             "{walking2}": str(BASIC_MOTIONS / "training" / "walking.02.csv")}
    out = []
    for a in args:
        for k, v in subst.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def test_every_row_names_a_specific_input() -> None:
    """The table itself: no row may pass on a trivial fragment (one character, a bare '=') or repeat another."""
    for args, _, named, why in MALFORMED:
        assert len(named) >= 3 and len(why) >= 5, (args, named, why)
    assert len({tuple(a) for a, *_ in MALFORMED}) == len(MALFORMED), "a row is listed twice"


@pytest.mark.parametrize(("args", "error", "named", "why"),
                         [pytest.param(a, e, n, w, id=f"{' '.join(a)} -> {e.__name__}") for a, e, n, w in MALFORMED])
def test_malformed_input_fails_cleanly(work: dict[str, Path], run_cli, args, error, named, why) -> None:  # type: ignore[no-untyped-def]
    """Each bad input exits with its error class's code, says why, and names the file/field/value refused."""
    argv = _fill(args, work)
    named, why = _fill([named, why], work)
    root = work["full"]
    before = _state(root)
    base_before = sorted(os.listdir(work["base"]))
    code, out, err = run_cli(argv, cwd=root)
    _clean(code, out, err, argv)
    shown = f"eml {' '.join(argv)} -> {code}\nstdout: {out[-800:]}\nstderr: {err[-1500:]}"
    assert code == error.exit_code, f"expected {error.__name__} (exit {error.exit_code})\n{shown}"
    message = " ".join(err.split())  # one line, whatever the console width
    assert why in message, f"the message does not say why ({why!r})\n{shown}"
    assert named in message, f"the message does not name the input refused ({named!r})\n{shown}"
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

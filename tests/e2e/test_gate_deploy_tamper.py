"""From the CLI: an edited library cannot pass `eml gate`, `eml deploy` ships only the library the gate checked,
and `eml bundle verify` needs a pinned key and refuses zip tricks (exit 8 naming the bundle and the entry)."""

from __future__ import annotations

import io
import json
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

from cli_helpers import cli_ok, imported_model_project

from conftest import MLPERF_TINY

KWS = MLPERF_TINY / "kws_ref_model.tflite"


def _set(lib: Path, **changes: object) -> None:
    m = json.loads((lib / "MANIFEST.json").read_text())
    m.update(changes)
    (lib / "MANIFEST.json").write_text(json.dumps(m, indent=2) + "\n")


def test_edited_library_cannot_pass_the_gate_nor_be_deployed(run_cli: Any, tmp_path: Path) -> None:
    root = imported_model_project(run_cli, tmp_path, KWS, "kws")
    cli_ok(run_cli, ["compile", "models:/kws/1", "-o", "lib", "--vectors", "0"], root)
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=8k"], root)
    code, out, _ = run_cli(["gate", "models:/kws/1", "--library", "lib", "--json"], cwd=root)
    assert code == 8 and json.loads(out)["failed"] == ["max_ram_bytes"]  # 11,397 B needed
    shutil.copytree(root / "lib", root / "copy")
    _set(root / "copy", ram_bytes=50)
    code, out, err = run_cli(["gate", "models:/kws/1", "--library", "copy"], cwd=root)
    assert code == 8 and "copy/MANIFEST.json" in err and "'ram_bytes' is 50" in err and "Traceback" not in err
    code, _, err = run_cli(["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "b.zip", "--library", "copy"],
                           cwd=root)
    assert code == 8 and "failed on max_ram_bytes" in err and not (root / "b.zip").exists()
    cli_ok(run_cli, ["requirements", "set", "max_ram=64k"], root)
    cli_ok(run_cli, ["gate", "models:/kws/1", "--library", "lib"], root)
    cli_ok(run_cli, ["compile", "models:/kws/1", "-o", "other", "--name", "other", "--vectors", "0"], root)
    for lib, why in (("copy", "'ram_bytes' is 50"), ("other", "not the library gate #2 checked")):
        code, _, err = run_cli(["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "b.zip", "--library", lib],
                               cwd=root)
        assert code == 8 and why in err and not (root / "b.zip").exists(), err
    r = json.loads(cli_ok(run_cli, ["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "b.zip", "--json"],
                          root))
    assert r["library"] == "kws" and not r["compiled_now"]


def _bundle_project(run_cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    root = imported_model_project(run_cli, tmp_path, KWS, "kws")
    cli_ok(run_cli, ["requirements", "set", "target=cortex-m4", "max_ram=64k"], root)
    cli_ok(run_cli, ["compile", "models:/kws/1", "-o", "lib", "--vectors", "0"], root)
    cli_ok(run_cli, ["gate", "models:/kws/1", "--library", "lib"], root)
    cli_ok(run_cli, ["deploy", "models:/kws/1", "--target", "cortex-m4", "-o", "b.zip"], root)
    return root, root / "b.zip"


def test_bundle_verify_needs_a_pinned_key(run_cli: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crisp_eml.fleet.keys import public_hex

    root, bundle = _bundle_project(run_cli, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code, _, err = run_cli(["bundle", "verify", str(bundle)], cwd=outside)
    assert code == 8 and str(bundle) in err and "not pinned" in err and "--allow-unpinned" in err
    code, out, err = run_cli(["bundle", "verify", str(bundle), "--allow-unpinned", "--json"], cwd=outside)
    assert code == 0 and json.loads(out)["pinned"] is False and "warning" in err and "NOT who signed" in err
    pub = cli_ok(run_cli, ["keys", "show"], root).strip()
    (tmp_path / "project.pub").write_text(pub)
    (tmp_path / "other.pub").write_text(public_hex(Ed25519PrivateKey.generate().public_key()))
    code, out, _ = run_cli(["bundle", "verify", str(bundle), "--key", str(tmp_path / "project.pub"), "--json"],
                           cwd=outside)
    assert code == 0 and json.loads(out)["pinned"] is True
    code, _, err = run_cli(["bundle", "verify", str(bundle), "--key", str(tmp_path / "other.pub"),
                            "--allow-unpinned"], cwd=outside)
    assert code == 8 and "bad signature" in err  # a key that did not sign it fails, --allow-unpinned or not
    code, _, err = run_cli(["bundle", "verify", str(bundle), "--public-key", str(tmp_path / "other.pub")],
                           cwd=outside)
    assert code == 8 and "bad signature" in err


def test_bundle_verify_refuses_zip_tricks(run_cli: Any, tmp_path: Path) -> None:
    root, bundle = _bundle_project(run_cli, tmp_path)
    src = zipfile.ZipFile(bundle)
    entries = [(i.filename, src.read(i)) for i in src.infolist()]
    tricks = {
        "dup.zip": [e for n, d in entries for e in ([(n, b"tampered"), (n, d)] if n == "model.tflite" else [(n, d)])],
        "dir.zip": [*entries, ("library/", b"payload")],
        "extra.zip": [*entries, ("library/src/extra.c", b"int evil;")],
        "missing.zip": [e for e in entries if e[0] != "model.tflite"],
        "dotdot.zip": [*entries, ("../evil.c", b"x")],
    }
    for name, content in tricks.items():
        buf = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
            warnings.simplefilter("ignore")
            for entry, data in content:
                zf.writestr(zipfile.ZipInfo(entry), data)
        (root / name).write_bytes(buf.getvalue())
        code, _, err = run_cli(["bundle", "verify", name], cwd=root)
        want = {"dup.zip": "model.tflite: 2 entries", "dir.zip": "library/: a directory entry",
                "extra.zip": "library/src/extra.c: not listed", "missing.zip": "model.tflite: listed in BUNDLE.json "
                "but missing", "dotdot.zip": "'../evil.c': unsafe entry name"}[name]
        assert code == 8 and name in err and want in err and "Traceback" not in err, (name, err)
    cli_ok(run_cli, ["bundle", "verify", "b.zip"], root)


def test_anomaly_library_is_rederived_too(run_cli: Any, tmp_path: Path) -> None:
    from cli_helpers import basic_motions_project

    from conftest import BASIC_MOTIONS

    root = basic_motions_project(run_cli, tmp_path, BASIC_MOTIONS)
    learning = json.dumps({"type": "anomaly-kmeans", "params": {"normal_labels": ["standing", "walking"]}})
    cli_ok(run_cli, ["impulse", "set", f"learning={learning}"], root)
    run = json.loads(cli_ok(run_cli, ["train", "--json"], root))
    cli_ok(run_cli, ["models", "register", "ad", "--run", run["id"]], root)
    cli_ok(run_cli, ["compile", "models:/ad/1", "-o", "lib", "--vectors", "1"], root)
    cli_ok(run_cli, ["requirements", "set", "max_ram=64k"], root)
    gate = json.loads(cli_ok(run_cli, ["gate", "models:/ad/1", "--library", "lib", "--json"], root))
    manifest = json.loads((root / "lib" / "MANIFEST.json").read_text())
    assert gate["evidence"]["library"]["ram_bytes"] == manifest["ram_bytes"] and manifest["kind"] == "anomaly"
    _set(root / "lib", weights_bytes=1)
    code, _, err = run_cli(["gate", "models:/ad/1", "--library", "lib"], cwd=root)
    assert code == 8 and "'weights_bytes' is 1" in err

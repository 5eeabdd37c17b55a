"""Tested docs and public surface: CLI reference, --json everywhere, curated API, settings reference."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "crisp_eml"


def _gen_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", REPO / "scripts" / "gen_cli_docs.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _leaf_commands() -> dict[str, Any]:
    gen = _gen_module()
    return {" ".join(path): cmd for path, cmd in gen.walk(gen.root_command()) if path and not gen.is_group(cmd)}


def test_cli_reference_is_up_to_date() -> None:
    gen = _gen_module()
    committed = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert gen.render() == committed, "docs/cli.md is out of date: run .venv/bin/python scripts/gen_cli_docs.py"


def test_cli_reference_names_every_command_and_option() -> None:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    leaves = _leaf_commands()
    assert {"init", "ingest", "train", "compile", "verify", "gate", "deploy", "data ls"} <= set(leaves)
    for name, cmd in leaves.items():
        assert f"`eml {name}`" in text, name
        for p in cmd.params:
            if getattr(p, "hidden", False):  # hidden aliases (e.g. train --lr) are left out, as the generator does
                continue
            for opt in p.opts:
                if opt.startswith("-"):
                    assert f"`{opt}`" in text, f"eml {name} {opt}"


def test_every_command_has_json_option() -> None:
    missing = [name for name, cmd in _leaf_commands().items()
               if "--json" not in {o for p in cmd.params for o in p.opts}]
    assert missing == []


def test_version_and_members_rm_json(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import crisp_eml

    code, out, _ = run_cli(["version", "--json"])
    assert code == 0 and json.loads(out) == {"version": crisp_eml.__version__}
    code, _, err = run_cli(["init", str(tmp_path / "p"), "--member", "owner"])
    assert code == 0, err
    code, _, err = run_cli(["members", "add", "bob", "--persona", "data-scientist"], cwd=tmp_path / "p")
    assert code == 0, err
    code, out, err = run_cli(["members", "rm", "bob", "--json"], cwd=tmp_path / "p")
    assert code == 0, err
    assert json.loads(out) == {"removed": "bob"}
    code, out, _ = run_cli(["members", "ls", "--json"], cwd=tmp_path / "p")
    assert "bob" not in out


_PROBE = """
import json, sys
mode = sys.argv[1]
if mode == "api":
    import crisp_eml
    after_import = sorted(m for m in ("tensorflow", "tflite_micro", "keras", "sqlalchemy", "numpy") if m in sys.modules)
    missing = [n for n in crisp_eml.__all__ if getattr(crisp_eml, n, None) is None]
else:
    from crisp_eml.cli.main import main
    try:
        main(["--help"])
    except SystemExit:
        pass
    after_import, missing = [], []
heavy = sorted(m for m in ("tensorflow", "tflite_micro", "keras") if m in sys.modules)
print(json.dumps({"after_import": after_import, "missing": missing, "heavy": heavy}))
"""


def _probe(mode: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def test_public_api_resolves_without_tensorflow() -> None:
    res = _probe("api")
    assert res["after_import"] == [], "import crisp_eml must stay light"
    assert res["missing"] == []
    assert res["heavy"] == [], "resolving the public API must not import TensorFlow"


def test_public_api_names() -> None:
    import crisp_eml

    expected = {"Project", "EmlError", "InputError", "Sample", "ImpulseSpec", "FeatureSet", "Graph", "ingest_paths",
                "snapshot", "check_dataset", "create_impulse", "generate_features", "train", "compile_model",
                "read_tflite", "run_reference", "plan_memory"}
    assert expected <= set(crisp_eml.__all__)
    from crisp_eml.workspace.train import train

    assert crisp_eml.train is train
    assert crisp_eml.errors.NotFoundError is crisp_eml.NotFoundError
    assert len(set(crisp_eml.__all__)) == len(crisp_eml.__all__)
    assert set(crisp_eml.__all__) == {"EmlError", "__version__", *crisp_eml._LAZY}
    try:
        crisp_eml.no_such_name  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("unknown names must raise AttributeError")


def test_public_api_is_documented() -> None:
    import crisp_eml

    doc = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    undocumented = [n for n in crisp_eml.__all__ if n != "__version__" and f"`{n}" not in doc]
    assert undocumented == []


def test_eml_help_does_not_import_tensorflow() -> None:
    assert _probe("help")["heavy"] == []


# -- settings -------------------------------------------------------------------------------------------
_READS = [
    re.compile(r'config\.get\("(\w+)", \{\}\)\.get\("(\w+)"'),  # self.config.get("project", {}).get("name"
]
_STORE_READ = re.compile(r'\bstore\.get\("(\w+)"')
_ENV_READ = re.compile(r'environ(?:\.get\(|\[)"(EML_\w+)"')


def _keys_read_by_code() -> tuple[set[str], set[str]]:
    keys: set[str] = set()
    env: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for rx in _READS:
            keys |= {f"{a}.{b}" for a, b in rx.findall(text)}
        if 'config.get("store"' in text:
            keys |= {f"store.{k}" for k in _STORE_READ.findall(text)}
        env |= set(_ENV_READ.findall(text))
    return keys, env


def test_every_setting_the_code_reads_is_documented(project) -> None:  # type: ignore[no-untyped-def]
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    keys, env = _keys_read_by_code()
    assert {"project.name", "store.metadata_url", "store.blob_url", "actor.member"} <= keys
    assert {"EML_PROJECT", "EML_MEMBER", "EML_DEBUG"} <= env
    # and every key eml init writes
    keys |= {f"{section}.{k}" for section, table in project.config.items() for k in table}
    undocumented = sorted(k for k in keys | env if f"`{k}`" not in doc)
    assert undocumented == []


def test_readme_quick_start_uses_real_commands_and_options() -> None:
    """Every ``eml`` line of the README walk-through names an existing command and its options."""
    import shlex

    gen = _gen_module()
    root = gen.root_command()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- quick-start:begin -->", 1)[1].split("<!-- quick-start:end -->", 1)[0]
    lines = [ln.split("#", 1)[0].split("&&", 1)[0].strip() for ln in block.splitlines()]
    calls = [shlex.split(ln)[1:] for ln in lines if ln.startswith("eml ")]
    assert len(calls) >= 25
    for args in calls:
        cmd, rest = root, list(args)
        while gen.is_group(cmd):
            assert rest and rest[0] in cmd.commands, f"eml {' '.join(args)}: unknown command"
            cmd = cmd.commands[rest.pop(0)]
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        unknown = [a for a in rest if a.startswith("-") and a.split("=", 1)[0] not in known]
        assert unknown == [], f"eml {' '.join(args)}: unknown options {unknown}"

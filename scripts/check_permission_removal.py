"""Remove each permission check in turn and show that the permission suite notices every removal.

A check site is a ``<x>.require(Permission.X)`` call or an ``allowed(..., Permission.X, ...)`` call in
``src/crisp_eml/workspace`` or ``src/crisp_eml/lifecycle``. One at a time, in a temporary copy of ``src/``
and ``tests/`` (the working tree is never edited, so others working in it are not disturbed), the site is
neutralised the way a careless edit would do it - ``project.require(P)`` becomes ``project.actor`` (the
member is still known, nothing is checked) and ``allowed(...)`` becomes ``True`` - and the permission tests
run with ``pytest -q -x -k permission``. Every removal must make them fail.

Two runs per site: ``suite`` (all permission tests, as required) and ``behaviour`` (the same without the
static table-vs-code scan, which would otherwise catch every removal first): the second shows the calls
themselves - a refused persona getting through, or being refused by a callee instead of the use case - are
noticed too. ``make permission-check`` runs this script; exit status 1 when any removal went unnoticed.

    .venv/bin/python scripts/check_permission_removal.py [--only TEXT] [--list] [--suite-only]
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("src/crisp_eml/workspace", "src/crisp_eml/lifecycle")
TESTS = ["tests/unit/test_permission_matrix.py", "tests/unit/test_permission_suite.py"]
MODES = {"suite": "permission",
         "behaviour": "permission and not lists_exactly and not unchecked_audit and not scan_sees"}


@dataclass(frozen=True)
class Site:
    path: str  # relative to the repository root
    line: int
    function: str
    permission: str
    start: int  # byte offsets of the call in the file
    end: int
    replacement: bytes

    @property
    def label(self) -> str:
        return f"{Path(self.path).stem}.{self.function}:{self.line} {self.permission}"


def _offset(lines: list[bytes], lineno: int, col: int) -> int:
    return sum(len(ln) for ln in lines[:lineno - 1]) + col


def _permission(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Permission":
        return node.attr
    return None


def find_sites(root: Path = REPO) -> list[Site]:
    sites: list[Site] = []
    for folder in SCANNED:
        for path in sorted((root / folder).glob("*.py")):
            data = path.read_bytes()
            lines = data.splitlines(keepends=True)
            tree = ast.parse(data)
            funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call) or call.end_lineno is None or call.end_col_offset is None:
                    continue
                f = call.func
                if isinstance(f, ast.Attribute) and f.attr == "require" and call.args:
                    perm, repl = _permission(call.args[0]), ast.unparse(f.value).encode() + b".actor"
                elif isinstance(f, ast.Name) and f.id == "allowed" and len(call.args) > 1:
                    perm, repl = _permission(call.args[1]), b"True"
                else:
                    continue
                if perm is None:
                    raise SystemExit(f"{path}:{call.lineno}: a check without a literal Permission.X")
                owner = min((fn for fn in funcs if fn.lineno <= call.lineno <= (fn.end_lineno or 0)),
                            key=lambda fn: (fn.end_lineno or 0) - fn.lineno)
                sites.append(Site(str(path.relative_to(root)), call.lineno, owner.name, perm,
                                  _offset(lines, call.lineno, call.col_offset),
                                  _offset(lines, call.end_lineno, call.end_col_offset), repl))
    return sites


def mutate(original: bytes, site: Site) -> bytes:
    out = original[:site.start] + site.replacement + original[site.end:]
    ast.parse(out)  # still valid Python
    assert out != original
    return out


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(REPO / "src", dest / "src", ignore=ignore)
    shutil.copytree(REPO / "tests", dest / "tests", ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")


def run_tests(work: Path, keyword: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(work / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "EML_SHARED": os.environ.get("EML_SHARED", str(REPO.parent / "shared"))}
    for var in ("EML_MEMBER", "EML_PROJECT"):
        env.pop(var, None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-k", keyword, "-p", "no:cacheprovider",
                        "-p", "no:randomly", *TESTS], cwd=work, env=env, capture_output=True, text=True)
    first = next((ln.split(" - ")[0].removeprefix("FAILED ") for ln in r.stdout.splitlines()
                  if ln.startswith("FAILED ")), "")
    if r.returncode not in (0, 1):
        tail = (r.stdout + r.stderr).strip().splitlines()
        first = tail[-1] if tail else ""
    return r.returncode, first


def _check_copy_is_used(work: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(work / "src")}
    r = subprocess.run([sys.executable, "-c", "import crisp_eml; print(crisp_eml.__file__)"], env=env,
                       capture_output=True, text=True, check=True)
    if not Path(r.stdout.strip()).resolve().is_relative_to(work.resolve()):
        raise SystemExit(f"the copy is not imported (got {r.stdout.strip()}): results would be meaningless")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="only sites whose label contains TEXT")
    ap.add_argument("--list", action="store_true", help="list the sites and exit")
    ap.add_argument("--suite-only", action="store_true", help="skip the behaviour-only run")
    args = ap.parse_args(argv)
    sites = [s for s in find_sites() if not args.only or args.only in s.label]
    if args.list:
        for s in sites:
            print(s.label)
        return 0
    modes = ["suite"] if args.suite_only else list(MODES)
    with tempfile.TemporaryDirectory(prefix="eml-permission-check-") as tmp:
        work = Path(tmp)
        _copy_tree(work)
        _check_copy_is_used(work)
        code, first = run_tests(work, MODES["suite"])
        if code != 0:
            print(f"the permission tests fail before any removal ({first}); fix that first", file=sys.stderr)
            return 2
        rows: list[list[str]] = []
        missed = 0
        for i, site in enumerate(sites, 1):
            target = work / site.path
            original = target.read_bytes()
            row = [site.label]
            try:
                target.write_bytes(mutate(original, site))
                for mode in modes:
                    t0 = time.monotonic()
                    code, first = run_tests(work, MODES[mode])
                    verdict = "caught" if code == 1 else "MISSED" if code == 0 else f"error rc={code}"
                    missed += verdict != "caught"
                    row.append(f"{verdict} ({time.monotonic() - t0:.0f}s) {first.split('::')[-1]}")
            finally:
                target.write_bytes(original)
            rows.append(row)
            print(f"[{i}/{len(sites)}] " + " | ".join(row), file=sys.stderr, flush=True)
    print("| check removed | " + " | ".join(f"{m}: result, first failing test" for m in modes) + " |")
    print("|---|" + "---|" * len(modes))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{len(sites)} sites, {len(sites) * len(modes) - missed} of {len(sites) * len(modes)} removals caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

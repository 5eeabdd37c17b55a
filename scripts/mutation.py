"""Mutation testing (mutmut 3) of the modules that hold guarantees, one module at a time.

Why per module: each module has its own short test selection (a mutant's run must stay quick), and a
score per module is what the guarantee is judged on. mutmut reads its configuration from the
``pyproject.toml`` of the folder it runs in and works in a ``mutants/`` copy there, so every module gets
a sandbox ``mutants/<module>/`` holding a copy of the repository's ``pyproject.toml`` with a
``[tool.mutmut]`` section appended, and links to ``src/`` and ``tests/``; mutmut then creates
``mutants/<module>/mutants/``. The repository's own tree is never modified.

Survivors that cannot be killed (equivalent mutants) are listed, with the reason, in
``docs/mutation-triage.md``; this script reads the mutant ids from that table and reports them apart.
Score = (killed + timeout) / (mutants - equivalent-by-triage).

Usage::

    .venv/bin/python scripts/mutation.py                 # phase-1 modules
    .venv/bin/python scripts/mutation.py quant planner   # named modules
    .venv/bin/python scripts/mutation.py --phase 2       # the phase-2 modules
    .venv/bin/python scripts/mutation.py --report-only   # re-read the last results, run nothing

Exit status 1 when a module that ran is under ``--min-score`` (90 % by default).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOXES = REPO / "mutants"
TRIAGE = REPO / "docs" / "mutation-triage.md"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Module:
    """One module under mutation and the tests that defend it."""

    source: str  # path of the file to mutate, relative to the repository
    tests: tuple[str, ...]  # pytest selection (files or node ids) that exercises it
    phase: int = 1


INGEST_TESTS = ("tests/unit/test_store.py", "tests/unit/test_gc_rm.py", "tests/unit/test_ingest.py",
                "tests/unit/test_ingest_identity.py", "tests/unit/test_ingest_limits.py")

MODULES: dict[str, Module] = {
    "quant": Module("src/crisp_eml/core/quant.py", (
        "tests/unit/test_quant.py", "tests/golden/test_reference_tflm.py", "tests/golden/test_c_constants.py")),
    "planner": Module("src/crisp_eml/compiler/planner.py", (
        "tests/unit/test_planner.py", "tests/golden/test_planner_tiny.py", "tests/unit/test_planner_graphs.py",
        "tests/unit/test_planner_search.py")),
    # mutmut only mutates code inside functions: the MATRIX table itself is mutated by matrix_flips() below
    "personas": Module("src/crisp_eml/core/personas.py", ("tests/unit/test_permission_matrix.py",)),
    # phase 2: the integrity modules of the store, audit trail, ingestion and bundles
    "audit": Module("src/crisp_eml/store/audit.py", (
        "tests/unit/test_audit_tamper.py", "tests/unit/test_audit_chain.py", "tests/unit/test_store.py"), phase=2),
    "audit_checkpoints": Module("src/crisp_eml/store/audit_checkpoints.py", (
        "tests/unit/test_audit_tamper.py", "tests/unit/test_audit_chain.py"), phase=2),
    # blob store, gc and ingestion share one selection: gc and ingest exercise the store's age and trash paths
    "blobs": Module("src/crisp_eml/store/blobs.py", INGEST_TESTS, phase=2),
    "gc_blobs": Module("src/crisp_eml/workspace/gc_blobs.py", INGEST_TESTS, phase=2),
    "bundle": Module("src/crisp_eml/fleet/bundle.py", ("tests/unit/test_bundle.py",), phase=2),
    "ingest": Module("src/crisp_eml/workspace/ingest.py", INGEST_TESTS, phase=2),
    "formats": Module("src/crisp_eml/data/formats/*", (
        "tests/unit/test_formats_csv.py", "tests/unit/test_formats_ei.py", "tests/unit/test_formats_image.py",
        "tests/unit/test_formats_wav.py", "tests/unit/test_formats_parsed.py", "tests/unit/test_labels.py"),
        phase=2),
}

STATUSES = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped", "not checked",
            "caught by type check", "segfault", "check was interrupted by user")


@dataclass
class Score:
    """Counts for one module; ``equivalent`` are survivors listed in the triage file."""

    module: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        return self.counts.get("killed", 0) + self.counts.get("caught by type check", 0)

    @property
    def score(self) -> float:
        relevant = self.total - len(self.equivalent)
        return 100.0 * (self.killed + self.counts.get("timeout", 0)) / relevant if relevant else 100.0


def triaged_equivalents() -> set[str]:
    """Mutant ids in the first column of the triage file's tables."""
    found: set[str] = set()
    # docs/mutation-triage.md, plus one docs/mutation-triage-<module>.md per module triaged separately
    for path in sorted(TRIAGE.parent.glob("mutation-triage*.md")):
        found |= set(re.findall(r"^\|\s*`?([\w.ǁ]+__mutmut_\d+)`?\s*\|", path.read_text("utf-8"), re.MULTILINE))
    return found


def _toml_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare_sandbox(name: str, mod: Module) -> Path:
    """A fresh ``mutants/<name>/`` with its own mutmut configuration."""
    box = SANDBOXES / name
    if box.exists():
        shutil.rmtree(box)
    box.mkdir(parents=True)
    for link in ("src", "tests"):
        (box / link).symlink_to(os.path.relpath(REPO / link, box))
    tests = [t for t in mod.tests if (REPO / t.split("::")[0]).exists()]
    missing = sorted(set(mod.tests) - set(tests))
    if missing:
        print(f"[{name}] warning: test paths not found, skipped: {', '.join(missing)}", file=sys.stderr)
    config = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["src/crisp_eml"]',
        f"only_mutate = {_toml_list([mod.source])}",
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
        'pytest_add_cli_args = ["-p", "no:xdist", "-W", "ignore"]',
        "use_git_change_detection = false",
        "timeout_multiplier = 3.0",  # cpu limit = 2 * 3 * (tests' own time + 1 s): a looping mutant is cut early
        "",
    ])
    text = (REPO / "pyproject.toml").read_text("utf-8")
    (box / "pyproject.toml").write_text(text + config, "utf-8")
    return box


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EML_SHARED", str(REPO.parent / "shared"))  # tests/conftest.py finds data from there
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_module(name: str, mod: Module) -> None:
    box = prepare_sandbox(name, mod)
    print(f"[{name}] mutating {mod.source} against {' '.join(mod.tests)}", flush=True)
    log = box / "mutmut.log"
    with log.open("w", encoding="utf-8") as fh:  # mutmut draws a progress spinner: keep it out of the console
        proc = subprocess.run([str(BIN / "mutmut"), "run", "--max-children", "1"], cwd=box, env=_env(),
                              stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log.read_text("utf-8", errors="replace")[-3000:]
        raise SystemExit(f"[{name}] mutmut failed (exit {proc.returncode}); see {log}\n{tail}")


def read_score(name: str, equivalents: set[str]) -> Score | None:
    box = SANDBOXES / name
    if not (box / "mutants").exists():
        return None
    out = subprocess.run([str(BIN / "mutmut"), "results", "--all", "true"], cwd=box, env=_env(), check=True,
                         capture_output=True, text=True).stdout
    score = Score(name)
    for line in out.splitlines():
        m = re.match(r"\s+([\w.]+__mutmut_\d+): (.+)$", line)
        if not m:
            continue
        mutant, status = m.groups()
        score.counts[status] = score.counts.get(status, 0) + 1
        if status == "survived":
            (score.equivalent if mutant in equivalents else score.survivors).append(mutant)
    return score


def matrix_flips(tests: str = "tests/unit/test_permission_matrix.py") -> Score:
    """Data mutants mutmut cannot make: grant or withdraw each single cell of the persona matrix in turn.

    The matrix is pure data, so each flip is made in place in this process and the pinned-matrix tests run
    in-process (pytest reuses the imported modules, which share the very ``MATRIX`` dict).
    """
    import contextlib
    import io

    import pytest

    from crisp_eml.core import personas

    def run_tests() -> int:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return int(pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist", str(REPO / tests)]))

    original = dict(personas.MATRIX)
    score = Score("personas.MATRIX")
    sys.path.insert(0, str(REPO / "tests"))
    if run_tests() != pytest.ExitCode.OK:
        raise SystemExit(f"{tests} fails on the unmodified matrix: fix it before counting flips")
    try:
        for persona in personas.Persona:
            for permission in personas.Permission:
                personas.MATRIX[persona] = original[persona] ^ {permission}
                code = run_tests()
                personas.MATRIX[persona] = original[persona]
                status = "killed" if code == pytest.ExitCode.TESTS_FAILED else "survived"
                score.counts[status] = score.counts.get(status, 0) + 1
                if status == "survived":
                    score.survivors.append(f"MATRIX[{persona.value}] ^ {permission.value} (pytest exit {code})")
    finally:
        personas.MATRIX.update(original)
    return score


def table(scores: list[Score]) -> str:
    head = "| module | mutants | killed | survived | timeout | equivalent (triage) | other | score |"
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        survived = s.counts.get("survived", 0) - len(s.equivalent)
        other = s.total - s.killed - s.counts.get("survived", 0) - s.counts.get("timeout", 0)
        rows.append(f"| {s.module} | {s.total} | {s.killed} | {survived} | {s.counts.get('timeout', 0)} | "
                    f"{len(s.equivalent)} | {other} | {s.score:.1f} % |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"modules to run (default: the phase's); known: {', '.join(MODULES)}")
    ap.add_argument("--phase", type=int, default=1, help="run every module of this phase (default 1)")
    ap.add_argument("--report-only", action="store_true", help="only read the results of the last run")
    ap.add_argument("--min-score", type=float, default=90.0, help="fail below this score (percent)")
    ap.add_argument("--out", type=Path, default=SANDBOXES / "scores.md", help="where to write the table")
    args = ap.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s): {', '.join(unknown)}")
    names = args.modules or [n for n, m in MODULES.items() if m.phase == args.phase]
    if not args.report_only:
        for name in names:
            run_module(name, MODULES[name])
    equivalents = triaged_equivalents()
    scores = [s for s in (read_score(n, equivalents) for n in names) if s is not None]
    if "personas" in names:
        scores.append(matrix_flips())
    text = table(scores)
    for s in scores:
        if s.survivors:
            text += f"\n{s.module}: untriaged survivors: {', '.join(s.survivors)}\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    print(f"written to {args.out}")
    return 1 if any(s.score < args.min_score for s in scores) else 0


if __name__ == "__main__":
    sys.exit(main())

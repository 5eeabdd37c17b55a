"""Benchmark: start-up time of the ``eml`` command (issue 10: every command, even ``eml version``, must start fast).

Each command runs in a fresh subprocess, as a user runs it; the figure is the best of ``--repeat`` runs (the least
disturbed by other load on a shared machine). The anchor, measured in the same run with the same interpreter, is
``python -c pass``: the interpreter's own start-up, which no change to crisp-eml can remove. The goal (0.3 s for
``eml --help`` and ``eml version``) is checked on the absolute time; ``eml train --help`` is shown for information.

    .venv/bin/python benchmarks/startup.py [--repeat 10] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from timing import best_of

GOAL_S = 0.3
# (label, arguments after the interpreter, held to the goal)
COMMANDS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("eml --help", ("--help",), True),
    ("eml version", ("version",), True),
    ("eml train --help", ("train", "--help"), False),
)


def eml_argv() -> list[str]:
    """How ``eml`` starts with this interpreter: its console script if installed beside it, else the same entry."""
    script = Path(sys.executable).with_name("eml")
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from crisp_eml.cli.main import main; sys.exit(main())"]


def run(argv: list[str]) -> None:
    """One fresh process; a failure is an error here, not a fast time."""
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr[-2000:]}")


def measure(repeat: int) -> dict[str, Any]:
    anchor = best_of(functools.partial(run, [sys.executable, "-c", "pass"]), repeat)
    base = eml_argv()
    rows: list[dict[str, Any]] = []
    for label, args, held in COMMANDS:
        run([*base, *args])  # warm the file cache and the bytecode cache once, untimed
        t = best_of(functools.partial(run, [*base, *args]), repeat)
        rows.append({"command": label, "seconds": round(t, 4), "ratio_to_anchor": round(t / anchor, 1),
                     "goal_s": GOAL_S if held else None, "met": (t < GOAL_S) if held else None})
    return {"interpreter": sys.executable, "repeat": repeat, "anchor": "python -c pass",
            "anchor_seconds": round(anchor, 4), "goal_s": GOAL_S, "rows": rows,
            "all_met": all(r["met"] for r in rows if r["met"] is not None)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10, help="runs per command; the best is kept (default 10)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    res = measure(args.repeat)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"anchor `python -c pass`: {res['anchor_seconds']:.3f} s (best of {args.repeat})")
        for r in res["rows"]:
            verdict = "" if r["met"] is None else (f"  goal < {GOAL_S} s: " + ("PASS" if r["met"] else "FAIL"))
            print(f"{r['command']:<18} {r['seconds']:.3f} s  {r['ratio_to_anchor']:>5.1f}x anchor{verdict}")
    return 0 if res["all_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

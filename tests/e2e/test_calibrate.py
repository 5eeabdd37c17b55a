"""``eml calibrate`` end to end on real trained models: the espeak-ng keyword set and BasicMotions.

Keywords: the espeak-ng keyword dataset at 300 clips per class (default impulse and DS-CNN, seed 0), registered
and calibrated on a 1 h stream of its testing clips (yes/no events over noise/unknown clips, as recorded). With
fewer clips the model calls a few "unknown" testing clips "no" (two at 200 per class, scoring up to 0.94), and
they repeat over the hour: the best setting within FAR <= 1/h missed 12 % of the events at 200 per class (62 %
at the 100 of tests/e2e/test_keywords_quality.py with +-6 dB gains). At 300 every testing clip is classified
right and the bar is met with room (measured: FRR 0.9 % at FAR 0/h, 423 events).
Checked: the stream, the grid, the choice rule (lowest FRR within FAR <= 1/h), the stored
calibration as gate evidence for the two stream KPIs, the requirements as the default ceilings,
``chosen_postprocess`` for deployments, the self-contained HTML report and the audit entry. The issue's bar
(a setting with FRR <= 10 % at FAR <= 1/h on this stream) is its own test, so its figures are reported apart.

Motion: BasicMotions with ``--background standing`` (walking, running, badminton events over standing).
espeak-ng is a test dependency (``make test`` installs it): missing means FAIL. Several minutes on 2 cores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import BASIC_MOTIONS, invoke_cli
from crisp_eml.core.calibration import AVERAGE_WINDOWS, SUPPRESSION_WINDOWS, THRESHOLDS
from crisp_eml.core.postprocess import NEVER, PostprocessConfig

# one worker builds the keyword project for the whole module (a module fixture is built once per xdist worker)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("calibrate")]

CLIPS_PER_CLASS = 300
SEED = 0
GRID_SIZE = len(AVERAGE_WINDOWS) * len(THRESHOLDS) * len(SUPPRESSION_WINDOWS)


def eml(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """``eml ARGS`` in-process in ``cwd`` (the module-scoped fixtures cannot use the run_cli fixture)."""
    return invoke_cli(args, cwd)


def ok(args: list[str], cwd: Path) -> str:
    code, out, err = eml(args, cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out[-3000:]}\n{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def keywords(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the keyword model trained and registered as models:/kws/1."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: the keyword calibration test needs it "
                    "(run 'make test' as root, or apt-get install espeak-ng)")
    top = tmp_path_factory.mktemp("calibrate-kws")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("EML_MEMBER", "EML_PROJECT"):
            mp.delenv(var, raising=False)
        ok(["data", "synth", str(top / "data"), "--kind", "keywords", "--size", str(CLIPS_PER_CLASS), "--seed",
            str(SEED)], top)
        ok(["init", str(top / "proj"), "--member", "tester"], top)
        root = top / "proj"
        ok(["ingest", str(top / "data"), "--json"], root)
        ok(["impulse", "create", "--json"], root)
        ok(["train", "--json", "--seed", str(SEED)], root)
        ok(["models", "register", "kws"], root)
        return root


@pytest.fixture(scope="module")
def kws_calibration(keywords: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(ok(["calibrate", "models:/kws/1", "--json", "--seed", str(SEED), "--hours", "1",
                                         "--report",
                                         str(keywords.parent / "kws.html")], keywords))
    ch, st = out["chosen"], out["stream"]
    best = min((r for r in out["grid"] if r["far_per_hour"] <= 1.0), key=lambda r: r["frr"])
    print(f"\nkeywords calibration: {st['hours']:.2f} h, {st['events']} events {st['events_per_label']}; chosen "
          f"N={ch['average_windows']} thr={ch['thresholds'] or ch['threshold']} S={ch['suppression_steps']}: FAR "
          f"{ch['far_per_hour']:.2f}/h FRR {ch['frr']:.3f}; lowest FRR at FAR <= 1/h: {best['frr']:.3f}; "
          f"per label {json.dumps({k: (v['far_per_hour'], v['frr']) for k, v in ch['per_label'].items()})}")
    return out


def test_keywords_calibration_chooses_and_is_stored(keywords: Path, kws_calibration: dict[str, Any]) -> None:
    from crisp_eml.lifecycle.calibration_html import _plotly_js
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.calibrate import chosen_postprocess

    out = kws_calibration
    st, ch = out["stream"], out["chosen"]
    assert st["frequency_hz"] == 16000 and st["hours"] == pytest.approx(1.0) and st["gain_db"] == 0.0
    assert st["background_labels"] == ["noise", "unknown"] and st["target_labels"] == ["no", "yes"]
    assert set(st["events_per_label"]) == {"no", "yes"} and st["events"] >= 300
    assert st["engine"].startswith("C library") and st["steps"] >= 14000  # a result every 250 ms
    assert sum(r["thresholds"] is None for r in out["grid"]) == GRID_SIZE  # plus the per-label settings
    assert any(r["thresholds"] for r in out["grid"])
    # the rule: lowest FRR among the settings with FAR <= 1/h (the default ceiling), ties to the lower FAR
    within = [r for r in out["grid"] if r["far_per_hour"] <= 1.0]
    assert out["met"] and within and ch["far_per_hour"] <= 1.0
    assert ch["frr"] == min(r["frr"] for r in within)
    assert out["criteria"]["max_far_source"] == "default" and out["criteria"]["max_frr"] is None
    pp = PostprocessConfig.from_dict(ch["postprocess"])
    assert pp.labels == ("no", "noise", "unknown", "yes")
    own = ch["thresholds"] or {"no": ch["threshold"], "yes": ch["threshold"]}
    assert pp.thresholds == (own["no"], NEVER, NEVER, own["yes"])
    assert chosen_postprocess(Project(keywords), "models:/kws/1") == pp
    html = (keywords.parent / "kws.html").read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot(") == 4  # overall + two labels + timeline
    assert _plotly_js() in html  # plotly.js embedded once; apart from it, nothing is fetched from elsewhere
    page = html.replace(_plotly_js(), "")
    assert "<script src" not in page and "http" not in page
    log = json.loads(ok(["audit", "log", "--action", "model.calibrate", "--json"], keywords))
    entries = log if isinstance(log, list) else log.get("entries", [])
    assert any(e["artifacts"]["calibration"] == out["id"] for e in entries)


def test_keywords_gate_uses_the_calibration_and_requirements_set_the_ceilings(
        keywords: Path, kws_calibration: dict[str, Any]) -> None:
    ch = kws_calibration["chosen"]
    ok(["requirements", "set", "max_false_accepts_per_hour=1", "max_stream_false_reject_rate=10%"], keywords)
    code, text, _ = eml(["gate", "models:/kws/1", "--json"], keywords)
    gate = json.loads(text)
    assert code == (0 if gate["passed"] else 8)
    rows = {r["requirement"]: r for r in gate["rows"]}
    far, frr = rows["max_false_accepts_per_hour"], rows["max_stream_false_reject_rate"]
    assert far["measured"] == ch["far_per_hour"] and frr["measured"] == ch["frr"]
    assert far["source"].startswith(f"calibration #{kws_calibration['id']} ")
    assert far["passed"] and frr["passed"] == (ch["frr"] <= 0.10)
    # a new calibration takes its ceilings from the requirements
    again = json.loads(ok(["calibrate", "models:/kws/1", "--json", "--hours", "0.1", "--seed", "1"], keywords))
    assert again["criteria"]["max_far_source"] == "requirements (max_false_accepts_per_hour)"
    assert again["criteria"]["max_frr"] == pytest.approx(0.10)
    assert again["id"] == kws_calibration["id"] + 1
    gate2 = json.loads(eml(["gate", "models:/kws/1", "--json"], keywords)[1])
    rows2 = {r["requirement"]: r for r in gate2["rows"]}
    assert rows2["max_false_accepts_per_hour"]["source"].startswith(f"calibration #{again['id']} ")  # the latest


def test_keywords_meet_the_issue_bar(kws_calibration: dict[str, Any]) -> None:
    """Issue 13's bar: some setting reaches FRR <= 10 % at FAR <= 1 per hour on the synthetic stream, and the
    chosen one is such a setting."""
    hits = [r for r in kws_calibration["grid"] if r["far_per_hour"] <= 1.0 and r["frr"] <= 0.10]
    best = min((r for r in kws_calibration["grid"] if r["far_per_hour"] <= 1.0), key=lambda r: r["frr"])
    assert hits, f"lowest FRR at FAR <= 1/h is {best['frr']:.3f} ({best})"
    ch = kws_calibration["chosen"]
    assert kws_calibration["met"] and ch["far_per_hour"] <= 1.0 and ch["frr"] <= 0.10


def test_motion_calibration_with_named_background(tmp_path: Path) -> None:
    assert BASIC_MOTIONS.is_dir(), f"test data missing: {BASIC_MOTIONS}"
    root = tmp_path / "proj"
    ok(["init", str(root), "--member", "tester"], tmp_path)
    ok(["ingest", str(BASIC_MOTIONS), "--json"], root)
    ok(["impulse", "create", "--quick"], root)
    ok(["train", "--json", "--seed", "0"], root)
    ok(["models", "register", "motion"], root)
    code, _, err = eml(["calibrate", "models:/motion/1"], root)  # no label is a background label by name
    assert code == 2 and "--background" in err, err
    code, _, err = eml(["calibrate", "models:/motion/1", "--background", "sitting"], root)
    assert code == 2 and "sitting" in err and "not labels of the model" in err, err
    out = json.loads(ok(["calibrate", "models:/motion/1", "--background", "standing", "--hours", "0.5", "--json"],
                        root))
    st, ch = out["stream"], out["chosen"]
    assert st["frequency_hz"] == 10 and st["background_labels"] == ["standing"]
    assert set(st["events_per_label"]) == {"badminton", "running", "walking"} and st["events"] >= 30
    print(f"\nmotion calibration: {st['events']} events; chosen N={ch['average_windows']} thr={ch['threshold']} "
          f"S={ch['suppression_steps']}: FAR {ch['far_per_hour']:.2f}/h FRR {ch['frr']:.3f}")
    assert out["met"] and ch["far_per_hour"] <= 1.0 and ch["frr"] <= 0.10
    assert ch["postprocess"]["thresholds"][ch["postprocess"]["labels"].index("standing")] == NEVER

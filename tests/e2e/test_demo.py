"""`make demo` (python -m crisp_eml.demo) runs the whole lifecycle on built-in data and ends with a passing
gate, a production alias, a C library, a report and an intact audit trail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.cross
def test_demo_walks_the_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crisp_eml import demo

    monkeypatch.setenv("EML_PROJECT", str(tmp_path))  # the demo re-points it at its project; restored afterwards
    st = demo.run(tmp_path / "demo-project")
    summary = dict(st.summary)
    assert summary["gate"].startswith("#1 PASSED")
    assert "models:/motion/1" in summary["production"]
    assert summary["bit-exact"].startswith("yes (5 checks")  # host, sanitizers and Cortex-M4 on QEMU
    entries, signed = re.fullmatch(r"(\d+) entries, intact, signed up to entry (\d+)", summary["audit trail"]).groups()
    assert entries == signed  # every entry covered by a signed checkpoint
    lib = Path(st.extra["lib"])
    manifest = json.loads((lib / "MANIFEST.json").read_text())
    assert manifest["name"] == "motion" and (lib / "src" / "motion.h").is_file()
    html = Path(st.extra["report"]["html"]).read_text()
    assert "meets all" in html and Path(st.extra["report"]["pdf"]).is_file()
    # the Studio: the printed sign-in link and token open a session for the demo member
    from crisp_eml.workspace.credentials import authenticate
    from crisp_eml.workspace.studio_sessions import exchange_login

    link = st.extra["studio"]["login_url"].split("token=")[1]
    session = exchange_login(st.proj, link)
    assert session is not None and session.member == "demo"
    assert exchange_login(st.proj, link) is None  # single use
    cred = authenticate(st.proj, st.extra["studio"]["token"])
    assert cred is not None and cred.member == "demo"
    # the production model as a static .eim runner: it describes itself as the Edge Impulse runner's hello does
    import subprocess

    eim = tmp_path / "demo-project" / "build" / "motion.eim"
    assert "motion.eim" in summary["Linux runner"] and eim.stat().st_mode & 0o111
    hello = json.loads(subprocess.run([str(eim), "--print-info"], capture_output=True, text=True, check=True).stdout)
    assert hello["model_parameters"]["labels"] == manifest["labels"]

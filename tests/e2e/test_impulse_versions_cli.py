"""Implementation versions from the command line: new impulses take Edge Impulse's latest version, a block can
be moved to another version (or crisp-eml's variant) with ``eml impulse set``, ``eml dsp blocks`` lists them."""

from __future__ import annotations

import json

from cli_helpers import add_sine_samples

from crisp_eml.dsp.registry import latest_version


def _add_signals(project) -> None:  # type: ignore[no-untyped-def]
    add_sine_samples(project)


def test_versions_on_the_command_line(project, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = project.root
    code, out, err = run_cli(["dsp", "blocks", "--json"], cwd=root)
    assert code == 0, err
    listed = {b["type"]: b for b in json.loads(out)}
    assert listed["spectral-analysis"]["versions"] == [1, 2, 3, 4, "crisp"]
    assert listed["spectral-analysis"]["latest_version"] == 4 and "external" not in listed

    _add_signals(project)
    code, out, err = run_cli(["impulse", "create", "--quick", "--json"], cwd=root)
    assert code == 0, err
    block = json.loads(out)["spec"]["blocks"][0]
    assert block["type"] == "spectral-analysis"
    assert block["implementation_version"] == latest_version("spectral-analysis") == 4
    n_v4 = json.loads(out)["n_features"]

    code, out, err = run_cli(["impulse", "set", "blocks.0.implementation_version=crisp", "--json"], cwd=root)
    assert code == 0, err
    crisp = json.loads(out)
    assert crisp["spec"]["blocks"][0]["implementation_version"] == "crisp"
    assert crisp["n_features"] != n_v4  # Edge Impulse's v4 adds spectral skew/kurtosis and masks bins

    code, out, err = run_cli(["impulse", "set", "blocks.0.implementation_version=9"], cwd=root)
    assert code != 0 and "blocks.0.implementation_version" in err and "no implementation version 9" in err

    code, out, err = run_cli(["impulse", "show"], cwd=root)
    assert code == 0 and "version" in out and "crisp" in out

"""Use case ``impulse autotune``: set spectral/mfe/mfcc parameters from the training data (audited)."""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.impulse import BlockSpec, ImpulseSpec, windows_for
from crisp_eml.core.personas import Permission
from crisp_eml.data.samples import list_samples, load_array
from crisp_eml.dsp.autotune import autotune_params
from crisp_eml.store.project import Project
from crisp_eml.workspace.impulse import ImpulseVersion, current_impulse, save_impulse

MAX_WINDOWS = 400


def autotune_impulse(project: Project, *, layer: str = "raw") -> tuple[ImpulseVersion, dict[str, Any]]:
    """Tune the current impulse from up to ``MAX_WINDOWS`` training windows; returns the new version and
    the changed parameters per block name."""
    project.require(Permission.DESIGN_IMPULSE)
    spec = current_impulse(project)
    samples = [s for s in list_samples(project, layer=layer, category="training") if s.kind != "image"]
    chunks: list[np.ndarray] = []
    count = 0
    for s in samples:
        if not all(a in s.axes for a in spec.input.axes):
            continue
        w = windows_for(spec, load_array(project, s), s.frequency_hz, s.axes)
        chunks.append(w)
        count += w.shape[0]
        if count >= MAX_WINDOWS:
            break
    windows = np.concatenate(chunks)[:MAX_WINDOWS] if chunks else np.zeros((0, 1, 1), np.float32)
    changes = autotune_params(spec, windows)
    blocks = [BlockSpec(b.name, b.type, {**b.params, **changes.get(i, {})}, b.axes, b.implementation_version)
              for i, b in enumerate(spec.blocks)]
    new = ImpulseSpec(input=spec.input, blocks=blocks, learning=spec.learning)
    named = {spec.blocks[i].name: c for i, c in changes.items()}
    version = save_impulse(project, new, action="impulse.autotune", message="autotune",
                           extra={"windows": int(windows.shape[0])})
    return version, named

"""Where a device agent's readings come from: a command's output, an IIO accelerometer, an ALSA microphone, a
serial board.

Each source describes its sensor (name, kind, axes, units, rate) and reads exactly the rows a capture asks for
in live chunks (:class:`~crisp_eml.capture.sources.base.Source`). :func:`from_spec` turns the ``--source``
texts of ``eml agent`` (``cmd:python3 imu.py@100``, ``iio:iio:device0``, ``alsa:default@16000``,
``serial:/dev/ttyACM0``) into sources.
A V4L2 camera source is not offered yet: it cannot be tested without a camera.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from crisp_eml.capture.sources.base import CHUNK_S, BaseSource, Source
from crisp_eml.core.errors import InputError

#: ``--source`` prefix -> the default name of its sensor
KINDS = {"cmd": "command", "iio": "accelerometer", "alsa": "microphone", "serial": "serial"}
_RATE = re.compile(r"^(?P<body>.*?)@(?P<hz>\d+(?:\.\d+)?)$", re.DOTALL)


def split_rate(text: str) -> tuple[str, float | None]:
    """``"python x.py@100"`` -> ``("python x.py", 100.0)``; no ``@HZ`` suffix -> ``(text, None)``."""
    match = _RATE.match(text)
    if match is None:
        return text, None
    return match.group("body"), float(match.group("hz"))


def from_spec(spec: str, *, axes: Sequence[str] | None = None, name: str | None = None) -> Source:
    """The source a ``--source`` text names: ``cmd:<command line>[@HZ]``, ``iio:<device folder or name>[@HZ]``,
    ``alsa:<device>[@HZ]`` or ``serial:<port or auto>[@HZ]`` (115200 baud). ``axes`` names a command's or a
    board's values (default value1, value2...)."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise InputError(f"unknown source {spec[:60]!r}: use cmd:<command line>, iio:<device>, alsa:<device> or "
                         "serial:<port>, each optionally followed by @HZ", field="source")
    body, hz = split_rate(rest.strip())
    body = body.strip()
    if hz is not None and not hz > 0:
        raise InputError(f"absurd frequency {hz:g} Hz in {spec[:60]!r}", field="source")
    label = name or KINDS[kind]
    if kind == "cmd":
        from crisp_eml.capture.sources.command import CommandSource

        return CommandSource(body, frequency_hz=hz, axes=axes, name=label)
    if kind == "iio":
        from crisp_eml.capture.sources.iio import IioSource

        if not body:
            raise InputError("give the IIO device: iio:/sys/bus/iio/devices/iio:device0 (or its name)",
                             field="source")
        return IioSource(body, frequency_hz=hz, name=label)
    if kind == "serial":
        from crisp_eml.capture.sources.serial import SerialSource

        return SerialSource(body or "auto", frequency_hz=hz, axes=axes, name=label)
    from crisp_eml.capture.sources.alsa import AlsaSource

    return AlsaSource(body or "default", frequency_hz=hz, name=label)


def from_specs(specs: Sequence[str], *, axes: Sequence[str] | None = None) -> list[Source]:
    """Sources for several specs; a second source of one kind is named ``command-2``, ``microphone-2``..."""
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for spec in specs:
        kind = spec.partition(":")[0].strip().lower()
        base = KINDS.get(kind, kind)
        seen[base] = seen.get(base, 0) + 1
        sources.append(from_spec(spec, axes=axes, name=base if seen[base] == 1 else f"{base}-{seen[base]}"))
    return sources


__all__ = ["CHUNK_S", "KINDS", "BaseSource", "Source", "from_spec", "from_specs", "split_rate"]

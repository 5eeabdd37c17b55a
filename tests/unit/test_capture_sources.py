"""The agent's sources read exactly the rows asked for, with the right values, axes and rate, and fail clearly.

IIO: a fake sysfs tree (``root``). Commands: a script printing ``i,2i,-i`` at a known rate (tests/capture/
reading_printer.py). ALSA: ``arecord -D null`` (alsa-utils, in the Makefile's APT_PACKAGES) and a fake
``arecord`` on PATH that prints known samples. No wall-clock time is asserted.
"""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.capture.sources import from_spec, from_specs, split_rate
from crisp_eml.capture.sources.alsa import AlsaSource
from crisp_eml.capture.sources.base import Source
from crisp_eml.capture.sources.command import CommandSource
from crisp_eml.capture.sources.iio import IioSource
from crisp_eml.core.errors import InputError, ToolMissingError

PRINTER = Path(__file__).resolve().parents[1] / "capture" / "reading_printer.py"


def printer(hz: float, count: int = 0, change_at: int | None = None) -> str:
    extra = f" {change_at}" if change_at is not None else ""
    return f"{sys.executable} {PRINTER} {hz:g} {count}{extra}"


def read_all(source: Source, rows: int, chunk_s: float = 0.25) -> list[np.ndarray]:
    with source:
        return list(source.read(rows, chunk_s))


# -- IIO ----------------------------------------------------------------------------------------------------------
def fake_iio(root: Path, name: str = "lis3dh", **files: str) -> Path:
    folder = root / "iio:device0"
    folder.mkdir(parents=True)
    content = {"name": name, "in_accel_x_raw": "100", "in_accel_y_raw": "-50", "in_accel_z_raw": "1000",
               "in_accel_scale": "0.009806", "sampling_frequency": "50", **files}
    for fname, text in content.items():
        if text:
            (folder / fname).write_text(text + "\n")
    return folder


def test_iio_reads_scaled_axes_at_the_device_rate(tmp_path: Path) -> None:
    folder = fake_iio(tmp_path, in_accel_z_offset="-24")
    source = IioSource(folder)
    assert source.sensor() == {"name": "accelerometer", "kind": "timeseries", "axes": ["accX", "accY", "accZ"],
                               "units": ["m/s2"] * 3, "frequency_hz": 50.0}
    chunks = read_all(source, 7, chunk_s=0.0)
    rows = np.concatenate(chunks)
    assert rows.shape == (7, 3) and len(chunks) == 7  # chunk_s=0: every reading is its own chunk
    np.testing.assert_allclose(rows[0], [100 * 0.009806, -50 * 0.009806, (1000 - 24) * 0.009806])


def test_iio_follows_the_files_and_resolves_names(tmp_path: Path) -> None:
    folder = fake_iio(tmp_path, in_accel_y_raw="", in_accel_x_scale="2", sampling_frequency="")
    source = IioSource("lis3dh", root=tmp_path, frequency_hz=200)  # found by its name file under root
    assert source.folder == folder and source.axes == ["accX", "accZ"] and source.frequency_hz == 200
    assert IioSource("iio:device0", root=tmp_path).frequency_hz == 100.0  # folder name; no rate file: default
    with source:
        first = next(source.read(2, chunk_s=0.0))
        (folder / "in_accel_x_raw").write_text("7\n")
        second = next(source.read(1, chunk_s=0.0))
    np.testing.assert_allclose(first[0], [200, 1000 * 0.009806])  # x has its own scale
    np.testing.assert_allclose(second[0], [14, 1000 * 0.009806])


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda root: IioSource(root / "nope", root=root), "no IIO device folder"),
    (lambda root: IioSource(fake_iio(root, in_accel_x_raw="", in_accel_y_raw="", in_accel_z_raw="")),
     "not an IIO accelerometer"),
    (lambda root: IioSource(fake_iio(root), frequency_hz=-3), "absurd frequency"),
])
def test_iio_refuses_what_is_not_an_accelerometer(tmp_path: Path, make, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=fragment):
        make(tmp_path)


def test_iio_unreadable_value_names_the_file(tmp_path: Path) -> None:
    folder = fake_iio(tmp_path)
    source = IioSource(folder)
    (folder / "in_accel_y_raw").write_text("garbage\n")
    with pytest.raises(InputError, match=r"in_accel_y_raw: not a number"):
        read_all(source, 3)


# -- commands -----------------------------------------------------------------------------------------------------
def test_command_measures_the_rate_and_reads_every_line_in_chunks() -> None:
    source = CommandSource(printer(100))
    source.probe()  # runs the command once: learns the value count and measures the rate
    assert source.sensor() == {"name": "command", "kind": "timeseries", "axes": ["value1", "value2", "value3"],
                               "units": ["N/A"] * 3, "frequency_hz": 100.0}
    chunks = read_all(source, 80)
    rows = np.concatenate(chunks)
    assert rows.shape == (80, 3)
    np.testing.assert_array_equal(rows[:, 0], np.arange(80))  # the banner skipped, no line lost or repeated
    np.testing.assert_array_equal(rows[:, 1], 2 * rows[:, 0])
    assert len(chunks) >= 2  # 0.8 s of readings cannot fit in one 0.25 s chunk


def test_command_with_a_given_rate_and_axis_names() -> None:
    source = from_spec(f"cmd:{printer(50)}@50", axes=["a", "b", "c"])
    assert isinstance(source, CommandSource)
    assert source.sensor()["frequency_hz"] == 50 and source.axes == ["a", "b", "c"]
    rows = np.concatenate(read_all(source, 10))
    np.testing.assert_array_equal(rows[:, 2], -np.arange(10))


def test_command_value_count_change_is_a_clear_error() -> None:
    source = CommandSource(printer(200, change_at=5), frequency_hz=200)
    with pytest.raises(InputError, match=r"reading 6 has 2 values, the stream had 3"):
        read_all(source, 50)


def test_command_ending_early_says_how_and_why() -> None:
    source = CommandSource(printer(200, count=20), frequency_hz=200)
    with pytest.raises(InputError, match=r"exited with code 3 after 20 of 50 readings: sensor stopped"):
        read_all(source, 50)
    assert source._proc is None  # closed: no process left behind


def test_command_printing_everything_at_once_needs_a_rate(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("".join(f"{i},{i}\n" for i in range(3000)))
    with pytest.raises(InputError, match=r"all at once.*add @HZ"):
        CommandSource(f"cat {data}").probe()
    rows = np.concatenate(read_all(CommandSource(f"cat {data}", frequency_hz=100), 3000))  # with a rate: fine
    assert rows.shape == (3000, 2) and rows[-1, 0] == 2999


@pytest.mark.parametrize(("spec", "error", "fragment"), [
    ("cmd:", InputError, "empty command"),
    ("cmd:echo 'unclosed", InputError, "cannot split the command"),
    ("cmd:no-such-program-xyz 1 2", ToolMissingError, "'no-such-program-xyz' not found"),
    ("cmd:true", InputError, "exited with code 0 after 0 readings"),
    ("bogus:x", InputError, "unknown source 'bogus:x'"),
    ("alsa:default@8000.5", InputError, "whole number of Hz"),
])
def test_bad_sources_fail_before_serving(spec: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        from_spec(spec).probe()


def test_spec_rates_and_names() -> None:
    assert split_rate("python x.py --to a@b.c") == ("python x.py --to a@b.c", None)
    assert split_rate("python x.py@62.5") == ("python x.py", 62.5)
    names = [s.name for s in from_specs(["cmd:true", "alsa:null", "cmd:false@10"])]
    assert names == ["command", "microphone", "command-2"]


# -- ALSA ---------------------------------------------------------------------------------------------------------
def test_alsa_records_from_the_null_device() -> None:
    """``-D null`` needs no sound card (its samples are whatever its buffer holds: only their form is checked)."""
    assert shutil.which("arecord"), "alsa-utils is not installed (make setup installs it)"
    source = from_spec("alsa:null@8000")
    assert source.sensor() == {"name": "microphone", "kind": "audio", "axes": ["audio"], "units": ["wav"],
                               "frequency_hz": 8000.0}
    chunks = read_all(source, 4100)
    assert [len(c) for c in chunks] == [2000, 2000, 100]  # 0.25 s chunks of 8 kHz
    values = np.concatenate(chunks)
    assert values.shape == (4100, 1) and np.array_equal(values, np.round(values))
    assert values.min() >= -32768 and values.max() <= 32767


def test_alsa_decodes_signed_16_bit_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "arecord"
    fake.write_text(f"#!{sys.executable}\nimport sys, numpy as np\nassert '-D' in sys.argv and 'S16_LE' in sys.argv\n"
                    "sys.stdout.buffer.write(np.array([0, 1, -1, 32767, -32768] * 10, '<i2').tobytes())\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{Path(sys.executable).parent}")
    rows = np.concatenate(read_all(AlsaSource("hw:1,0"), 12))
    assert rows[:, 0].tolist() == [0, 1, -1, 32767, -32768] * 2 + [0, 1]
    with pytest.raises(InputError, match=r"arecord stopped \(exit code 0\) after 50 of 60 samples"):
        read_all(AlsaSource("hw:1,0"), 60)


def test_alsa_missing_device_or_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if shutil.which("arecord"):
        with pytest.raises(InputError, match=r"arecord stopped .*after 0 of 100 samples: arecord:"):
            read_all(AlsaSource("hw:9,9"), 100)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="install alsa-utils"):
        read_all(AlsaSource("default"), 10)

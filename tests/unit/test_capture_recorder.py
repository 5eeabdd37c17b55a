"""The recorder over synthetic streams: exact rows, start-up garbage, resync after a reset, changed value
counts, disconnects with and without keep_partial, rate detection, axis naming."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crisp_eml.capture.recorder import Recorder, sample_rows
from crisp_eml.capture.serial_port import DeviceGone, Reading
from crisp_eml.core.errors import InputError


class Stream:
    """Readings at ``hz`` from script items: a list of values is a reading, a str a non-reading line."""

    def __init__(self, hz: float = 100.0) -> None:
        self.hz = hz
        self.items: list[Reading] = []
        self.n = 0

    def line(self, text: str) -> Stream:
        self.items.append(Reading(self.n / self.hz, None, text))
        self.n += 1
        return self

    def readings(self, count: int, width: int = 3, start: int = 0) -> Stream:
        for i in range(start, start + count):
            self.items.append(Reading(self.n / self.hz, [float(i * 10 + k) for k in range(width)], "..."))
            self.n += 1
        return self

    def __iter__(self) -> Iterator[Reading]:
        return iter(self.items)


def test_rows_of_a_length() -> None:
    assert sample_rows(1000, 100) == 100
    assert sample_rows(1000, 62.5) == 62  # round half to even: 62 rows at 62.5 Hz
    assert sample_rows(500, 200) == 100
    with pytest.raises(InputError, match="at least 2"):
        sample_rows(5, 100)


def test_garbage_then_exact_samples_back_to_back() -> None:
    s = Stream().line("\x1b[0mets Jun  8 2016").line("rst:0x1").readings(1, width=2).readings(400)
    rec = Recorder(s, samples=3, length_ms=500, frequency_hz=100).run()
    assert rec.width == 3 and rec.frequency_hz == 100 and rec.rows_per_sample == 50
    assert [len(x.rows) for x in rec.samples] == [50, 50, 50]
    # 3 settle lines at start, 3 more after the (no-op) flush: the first sample starts at reading 6
    assert rec.samples[0].rows[0] == [60.0, 61.0, 62.0]
    assert rec.samples[1].rows[0] == [560.0, 561.0, 562.0]  # the next sample continues without a gap
    assert rec.skipped_lines == 3 and rec.resyncs == 0 and rec.ended is None


def test_the_rate_is_detected_before_recording() -> None:
    s = Stream(hz=200).readings(1000)
    rec = Recorder(s, samples=1, length_ms=1000, detect_s=1.0).run()
    assert rec.rate is not None and rec.rate.frequency_hz == 200 and rec.frequency_hz == 200
    assert rec.rows_per_sample == 200 and len(rec.samples[0].rows) == 200


def test_a_reset_mid_sample_restarts_that_sample() -> None:
    s = Stream().readings(3 + 3 + 50 + 20).line("Booting...").line("MPU6050 ready").readings(3 + 50, start=1000)
    rec = Recorder(s, samples=2, length_ms=500, frequency_hz=100).run()
    assert rec.resyncs == 1
    assert rec.samples[0].rows[-1] == [550.0, 551.0, 552.0]
    # the 20 readings before the reset are dropped; sample 2 starts after 3 settle readings
    assert rec.samples[1].rows[0] == [10030.0, 10031.0, 10032.0]
    assert len(rec.samples[1].rows) == 50


def test_a_changed_number_of_values_is_an_error_naming_the_change() -> None:
    s = Stream().readings(3 + 3 + 20).line("reset").readings(10, width=4)
    with pytest.raises(InputError, match="now prints 4 values per line, it printed 3 \\(x, y, z\\)"):
        Recorder(s, samples=1, length_ms=500, frequency_hz=100, name_axes=lambda w: ["x", "y", "z"]).run()


def test_one_cut_line_mid_stream_is_a_resync_not_an_error() -> None:
    s = Stream().readings(6 + 10).readings(1, width=2).readings(3 + 50)
    rec = Recorder(s, samples=1, length_ms=500, frequency_hz=100).run()
    assert rec.resyncs == 1 and len(rec.samples[0].rows) == 50


def test_a_disconnect_drops_everything_unless_asked() -> None:
    with pytest.raises(DeviceGone, match="ended; 1 complete sample\\(s\\) were recorded and dropped .*nothing "
                                         "was stored"):
        Recorder(Stream().readings(6 + 50 + 30), samples=3, length_ms=500, frequency_hz=100).run()
    rec = Recorder(Stream().readings(6 + 50 + 30), samples=3, length_ms=500, frequency_hz=100,
                   keep_partial=True).run()
    assert rec.ended is not None and "ended" in rec.ended
    assert [(len(x.rows), x.partial) for x in rec.samples] == [(50, False), (30, True)]
    assert len(rec.complete) == 1


def test_a_disconnect_before_recording_is_an_error_even_with_keep_partial() -> None:
    with pytest.raises(DeviceGone):
        Recorder(Stream().line("boot").readings(2), samples=1, length_ms=500, frequency_hz=100,
                 keep_partial=True).run()


def test_only_garbage_times_out_with_a_hint() -> None:
    s = Stream(hz=10)
    for i in range(200):
        s.line(f"\x7f~~{i}")
    with pytest.raises(InputError, match="no steady readings in 10 s.*check the baud rate"):
        Recorder(s, samples=1, length_ms=500, frequency_hz=100).run()


def test_too_many_resyncs_is_an_error() -> None:
    s = Stream().readings(6)
    for _ in range(30):
        s.readings(10).line("debug: hello")
    with pytest.raises(InputError, match="21 lines that are not readings mid-stream"):
        Recorder(s, samples=1, length_ms=500, frequency_hz=100).run()


def test_axes_must_match_the_values_per_line() -> None:
    with pytest.raises(InputError, match="2 axis name\\(s\\) for 3 values per line"):
        Recorder(Stream().readings(100), samples=1, length_ms=100, frequency_hz=100,
                 name_axes=lambda w: ["a", "b"]).run()


def test_bad_options() -> None:
    with pytest.raises(InputError, match="at least 1"):
        Recorder([], samples=0, length_ms=100)
    with pytest.raises(InputError, match="one of them"):
        Recorder([], samples=1)
    with pytest.raises(InputError, match="positive"):
        Recorder([], samples=1, length_ms=-5)

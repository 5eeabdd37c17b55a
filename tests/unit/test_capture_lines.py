"""Serial bytes to lines to readings: split lines, garbage, undecodable bytes, over-long lines, separators."""

from __future__ import annotations

import pytest

from crisp_eml.capture.lines import LineAssembler, parse_reading


def test_lines_split_across_feeds_and_every_line_ending() -> None:
    a = LineAssembler()
    assert a.feed(b"1,2") == []
    assert a.feed(b",3\r\n4,5") == ["1,2,3"]
    assert a.feed(b",6\n7,8,9\r") == ["4,5,6", "7,8,9"]
    assert a.feed(b"\n\n\r\n") == []  # the \n of a \r\n pair and blank lines give nothing
    assert a.feed(b"10,11,12") == []
    assert a.flush() == ["10,11,12"]
    assert a.flush() == []


def test_one_byte_at_a_time_gives_the_same_lines() -> None:
    data = b"boot v1.2\r\n0.5,1.5\r\n-2,3e2\r\n"
    a = LineAssembler()
    lines = [line for b in data for line in a.feed(bytes([b]))]
    assert lines == ["boot v1.2", "0.5,1.5", "-2,3e2"]


def test_undecodable_and_control_bytes_are_dropped() -> None:
    a = LineAssembler()
    assert a.feed(b"\xff\xfe\x001,\x80\x072,3\n") == ["1,2,3"]
    # a multi-byte character split across feeds survives
    assert a.feed(b"caf\xc3") == [] and a.feed(b"\xa9\n") == ["café"]


def test_an_over_long_line_is_dropped_up_to_its_end() -> None:
    a = LineAssembler(max_line=16)
    assert a.feed(b"x" * 10) == []
    assert a.feed(b"y" * 10) == []  # 20 bytes without a newline: discarded
    assert a.feed(b"zzz\n1,2\n") == ["1,2"]  # the rest of that line too, then lines again
    assert a.dropped == 1
    assert a.feed(b"a" * 16 + b"\n") == ["a" * 16]  # exactly the cap is kept


@pytest.mark.parametrize(("line", "values"), [
    ("1,2,3", [1.0, 2.0, 3.0]),
    ("1.5\t-2.25\t3e-2", [1.5, -2.25, 0.03]),
    ("1 2    3", [1.0, 2.0, 3.0]),
    ("  1, 2 ,3  ", [1.0, 2.0, 3.0]),
    ("1;2", [1.0, 2.0]),
    ("1,2,3,", [1.0, 2.0, 3.0]),  # Serial.print(x); Serial.print(",") loops leave a trailing comma
    ("-.5,+7.,42", [-0.5, 7.0, 42.0]),
    ("7", [7.0]),
])
def test_readings(line: str, values: list[float]) -> None:
    assert parse_reading(line) == pytest.approx(values)


@pytest.mark.parametrize("line", [
    "", "   ", "ets Jun  8 2016 00:22:57", "rst:0x1 (POWERON_RESET)", "1,2,x", "1,,2", "nan,1", "1,inf",
    "1e999", "0x10,2", "1_000,2", "ax=1,ay=2", "1,2 # comment", ",", "1-2",
])
def test_not_readings(line: str) -> None:
    assert parse_reading(line) is None

"""CSV time-series parser: good files, every bad case named, exact float32 round trip."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats import parse_bytes
from crisp_eml.data.formats.csv_series import parse_csv, split_header, write_csv


def test_timestamps_give_frequency_and_headers_give_units() -> None:
    p = parse_csv(b"timestamp,accX (m/s2),accY [g],temp\n0,1,2,3\n16,4,5,6\n32,7,8,9\n", "idle.01.csv")
    assert p.kind == "timeseries" and p.frequency_hz == 62.5
    assert p.sensors == (Sensor("accX", "m/s2"), Sensor("accY", "g"), Sensor("temp", None))
    assert p.array.dtype == np.float32 and p.array.shape == (3, 3)
    assert p.array[2].tolist() == [7.0, 8.0, 9.0]


def test_no_timestamp_needs_frequency() -> None:
    data = b"a,b\n1,2\n3,4\n"
    with pytest.raises(InputError, match="no timestamp column"):
        parse_csv(data, "x.csv")
    assert parse_csv(data, "x.csv", frequency_hz=50).frequency_hz == 50


def test_split_header() -> None:
    assert split_header("gyrX (deg/s)") == Sensor("gyrX", "deg/s")
    assert split_header("plain") == Sensor("plain", None)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"timestamp,a,b\n0,1,2\n10,3", "truncated"),
        (b"timestamp,a,b\n0,1,2\n10,3\n20,1,2\n", "ragged row at line 3"),
        (b"timestamp,a,b\n0,1,2\n10,3,4,5\n", "ragged row at line 3"),
        (b"timestamp,a\n0,1\n10,hello\n", "text 'hello' in numeric column 'a' at line 3"),
        (b"timestamp,a\n0,1\n10,\n20,3\n", "empty value in numeric column 'a' at line 3"),
        (b"timestamp,a\n0,1\n20,2\n10,3\n", "not strictly increasing at line 4"),
        (b"timestamp,a\n0,1\n10,2\n20,3\n45,4\n", "irregular timestamps"),
        (b"timestamp,a\n0,1\n0,2\n", "not strictly increasing"),
        (b"timestamp,a\n0,1\n7200000,2\n", "more than one hour"),
        (b"timestamp,a\nnan,1\n10,2\n", "not a finite number"),
        (b"", "empty file"),
        (b"timestamp,a\n", "no data rows"),
        (b"1,2\n3,4\n", "header"),
        (b"timestamp\n0\n", "no value columns"),
        (b"a,a\n1,2\n", "duplicate column"),
        (b"\xff\xfe\x00a", "not UTF-8"),
    ],
)
def test_bad_csv_names_file_and_reason(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        parse_csv(data, "walk.07.csv", frequency_hz=None if data.startswith(b"timestamp") else 10)
    assert str(info.value).startswith("walk.07.csv: ")


@pytest.mark.parametrize("hz", [0.0, -5.0, float("nan"), float("inf"), 1e-5])
def test_absurd_frequency_rejected(hz: float) -> None:
    with pytest.raises(InputError, match="absurd"):
        parse_csv(b"a\n1\n2\n", "x.csv", frequency_hz=hz)


def test_nan_values_are_kept_for_quality_checks() -> None:
    p = parse_csv(b"timestamp,a\n0,nan\n10,1\n", "x.csv")
    assert np.isnan(p.array[0, 0]) and p.array[1, 0] == 1


@pytest.mark.parametrize("hz", [62.5, 10.0, 16000.0, 3.0, 44.1])
def test_write_csv_round_trips_exactly(hz: float) -> None:
    rng = np.random.default_rng(1)
    arr = (rng.normal(0, 1e3, (50, 3)) * rng.uniform(1e-6, 1, (50, 3))).astype(np.float32)
    sensors = (Sensor("x", "m/s2"), Sensor("y"), Sensor("z", "g"))
    back = parse_bytes(write_csv(arr, sensors, hz), "a.csv")
    assert back.array.tobytes() == arr.tobytes()
    assert back.sensors == sensors and back.frequency_hz == hz


def test_real_basic_motions_file() -> None:
    from conftest import BASIC_MOTIONS

    p = parse_bytes((BASIC_MOTIONS / "training" / "running.01.csv").read_bytes(), "running.01.csv")
    assert p.array.shape == (100, 6) and p.frequency_hz == 10.0
    assert [s.name for s in p.sensors] == ["accX", "accY", "accZ", "gyrX", "gyrY", "gyrZ"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"timestamp,a,b\n0,1,2\n10,3,1e400\n", "value inf out of range in numeric column 'b' at line 3"),
        (b"timestamp,a,b\n0,1,2\n10,-inf,4\n", "value -inf out of range in numeric column 'a' at line 3"),
        (b"timestamp,a,b\n0,1,2\n\n10,1e39,4\n", "value 1e\\+39 out of range in numeric column 'a' at line 4"),
    ],
)
def test_values_beyond_float32_are_refused(data: bytes, match: str) -> None:
    """1e400 used to be stored as inf with only a numpy RuntimeWarning (1e39 too: finite as float64 only)."""
    with pytest.raises(InputError, match=match) as info:
        parse_csv(data, "big.csv")
    assert info.value.source == "big.csv"


def test_too_many_columns_refused_at_the_limit() -> None:
    def table(n: int) -> bytes:
        return (",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n").encode()

    assert parse_csv(table(64), "w.csv", frequency_hz=10).array.shape == (1, 64)
    with pytest.raises(InputError, match="65 value columns, more than the 64"):
        parse_csv(table(65), "w.csv", frequency_hz=10)


@pytest.mark.parametrize(("hz", "ok"), [(10e6, True), (10.5e6, False)])
def test_frequency_upper_bound(hz: float, ok: bool) -> None:
    if ok:
        assert parse_csv(b"a\n1\n", "x.csv", frequency_hz=hz).frequency_hz == hz
    else:
        with pytest.raises(InputError, match="more than 1e\\+07 Hz"):
            parse_csv(b"a\n1\n", "x.csv", frequency_hz=hz)
    # the same bound for timestamps: 1e-5 ms apart is 100 MHz
    with pytest.raises(InputError, match="faster than"):
        parse_csv(b"timestamp,a\n0,1\n0.00001,2\n", "x.csv")


_STREAM_CASES = [
    b"timestamp,a,b\r\n0,1,2\r\n10,3,4\r\n20,5,6\r\n",
    b"timestamp,a\r\n0,1\r\n10,2\r\n20,3\r\n30,x\r\n",  # a CRLF split between blocks is one line break
    b"\xef\xbb\xbftimestamp,a\n\n0,1\n\n\n10,2\n20,3",
    b"a,b\n1,2\n3,\"4\"\n 5 , 6 \n",
    b"timestamp,a\n0,1\n10,2\n20,3\n45,4\n",  # irregular: the line number crosses blocks and blank lines
    b"timestamp,a\n0,1\n\n10,2\n\n20,3\n\n15,4\n",
    b"timestamp,a,b\n0,1,2\n10,3",
    b"a,b\n1,2\n3,x\n",
    "a,\u00e9\n1,2\n3,4\n".encode(),
    b"a\r1\r2\r3\r",
]


@pytest.mark.parametrize("data", _STREAM_CASES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8])
def test_block_parsing_matches_whole_file(data: bytes, chunk: int) -> None:
    """Streaming in tiny blocks (lines, CRLF pairs and UTF-8 characters split anywhere) gives the same sample or
    the same error, line numbers included, as parsing the file in one block."""
    import io

    from crisp_eml.data.formats.csv_series import parse_csv_stream

    def outcome(stream_chunk: int) -> object:
        try:
            p = parse_csv_stream(io.BytesIO(data), "s.csv", frequency_hz=None if b"timestamp" in data else 10,
                                 chunk_bytes=stream_chunk)
        except InputError as exc:
            return str(exc)
        return (p.array.tobytes(), p.array.shape, p.sensors, p.frequency_hz)

    assert outcome(chunk) == outcome(1 << 20)


def test_irregular_timestamp_line_counts_blank_lines() -> None:
    import io

    from crisp_eml.data.formats.csv_series import parse_csv_stream

    data = b"timestamp,a\n0,1\n\n10,2\n\n20,3\n\n50,4\n"
    with pytest.raises(InputError, match="interval 30 ms at line 8"):
        parse_csv_stream(io.BytesIO(data), "s.csv", chunk_bytes=4)

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
    b"timestamp,a,b\n0,1,2\n10,3\n20,5,6\n",  # a short row inside the file is ragged, never "truncated"
    b"timestamp,a\n0,1\n10,\n20,3\n",
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


_F = "(values must be finite float32 numbers; nan marks a missing value)"


@pytest.mark.parametrize(
    ("data", "hz", "message", "field"),
    [
        (b"", None, "empty file: no header row", None),
        (b"\n \n\r\n", None, "empty file: no header row", None),
        (b"1,2\n3,4\n", 10, "the first row must be a header naming the columns (found numbers)", None),
        (b"a,,b\n1,2,3\n", 10, "empty column name in the header row", None),
        (b"a,b,a\n1,2,3\n", 10, "duplicate column names in the header row", None),
        (b"timestamp\n0\n", None, "no value columns besides the timestamp", None),
        (b"timestamp,a\n", None, "no data rows after the header", None),
        (b"a,b\n1,2\n", None, "no timestamp column and no frequency given (pass --frequency HZ)", None),
        (b"timestamp,a\n0,1\n", None, "one row cannot give a sampling interval (pass --frequency HZ)", None),
        (b"timestamp,a\n0,1\nnan,2\n", None, "timestamp is not a finite number at line 3", "timestamp"),
        (b"timestamp,a\ninf,1\ninf,2\n", None, "timestamp is not a finite number at line 2", "timestamp"),
        (b"timestamp,a\n0,1\n10,2\n10,3\n", None, "timestamps are not strictly increasing at line 4", "timestamp"),
        (b"timestamp,a\n0,1\n0.5,2\n0.5,3\n", None, "timestamps are not strictly increasing at line 4",
         "timestamp"),
        (b"timestamp,a\n0,1\n10,2\n20,3\n32,4\n", None,
         "irregular timestamps: interval 12 ms at line 5 vs median 10 ms (tolerance 10%)", "timestamp"),
        (b"timestamp,a\n0,1\n30,2\n40,3\n50,4\n", None,
         "irregular timestamps: interval 30 ms at line 3 vs median 10 ms (tolerance 10%)", "timestamp"),
        (b"timestamp,a\n0,1\n7200000,2\n", None, "absurd sampling interval 7.2e+06 ms (more than one hour)",
         "timestamp"),
        (b"timestamp,a\n0,1\n1e39,2\n", None, "absurd sampling interval 1e+39 ms (more than one hour)", "timestamp"),
        (b"timestamp,a\n-1.7e308,1\n1.7e308,2\n", None, "absurd sampling interval inf ms (must be > 0 and finite)",
         "timestamp"),
        (b"timestamp,a\n0,1\n10,2\n", 111, "--frequency 111 Hz contradicts the timestamps (100 Hz)", "timestamp"),
        (b"timestamp,a\n0,1\n10,2\n", 89, "--frequency 89 Hz contradicts the timestamps (100 Hz)", "timestamp"),
        (b"timestamp,a,b\n0,1,2\n10,3\n", None, "ragged row at line 3: 2 fields, header has 3", None),
        (b"a,b\r1,2\r3\r", 10, "ragged row at line 3: 1 fields, header has 2", None),
        (b"timestamp,a,b\n0,1,2\n10,3", None, "truncated: last line 3 has 2 of 3 fields", None),
        (b"timestamp,a\n0,1\n10,", None, "truncated: last line 3 ends with an empty field", None),
        (b"timestamp,a\n0,1\n10,\n20,3", None, "empty value in numeric column 'a' at line 3", None),
        (b"a\n1\nx", 10, "text 'x' in numeric column 'a' at line 3", None),
        (b"a\n1#x\n", 10, "text '1#x' in numeric column 'a' at line 2", None),
        (b"a\n" + b"y" * 50 + b"\n", 10, f"text {'y' * 40!r} in numeric column 'a' at line 2", None),
        (b"\n\ntimestamp,a\n0,1\n10,x\n", None, "text 'x' in numeric column 'a' at line 5", None),
        (b"\n \ntimestamp,a\n0,1\n10,2\n\n20,3\n50,4\n", None,
         "irregular timestamps: interval 30 ms at line 8 vs median 10 ms (tolerance 10%)", "timestamp"),
        (b"timestamp,a\n0,1\n\n10,2\n\n\n20,3\n\n50,4\n", None,
         "irregular timestamps: interval 30 ms at line 9 vs median 10 ms (tolerance 10%)", "timestamp"),
        (b"timestamp,a\n0,1\n10,2\n40,3\n\n50,4\n60,5\n", None,  # a blank line after the bad step does not count
         "irregular timestamps: interval 30 ms at line 4 vs median 10 ms (tolerance 10%)", "timestamp"),
        # the first problem in file order wins, whichever check finds it
        (b"a,b\n1e39,1\nx,2\n", 10, f"value 1e+39 out of range in numeric column 'a' at line 2 {_F}", "a"),
        (b"a\n3.4028235677973366e38\nx\n", 10, f"value 3.40282e+38 out of range in numeric column 'a' at line 2 {_F}",
         "a"),
        (b"timestamp,a\n0,1\n1e39,2\n20,x\n", None, "text 'x' in numeric column 'a' at line 4", None),
        (b"timestamp,a\n0,1\n10,1e39\n20,x\n", None, f"value 1e+39 out of range in numeric column 'a' at line 3 {_F}",
         "a"),
        (b"timestamp,a (g)\n0,1\n10,1e39\n", None,
         f"value 1e+39 out of range in numeric column 'a (g)' at line 3 {_F}", "a (g)"),
        (b"a\n1\n\xff", 10, "not UTF-8 text (byte 4)", None),
        (b"\xffa\n", 10, "not UTF-8 text (byte 0)", None),
        (b"a\n1\n\xc3", 10, "not UTF-8 text (byte 4)", None),
        (b"a\n1\n\xc3\xff\n", 10, "not UTF-8 text (byte 4)", None),
        (b"a\n1\x00\n", 10, "binary data in a CSV file (NUL byte)", None),
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_refusals_are_exact_in_any_block_size(
    data: bytes, hz: float | None, message: str, field: str | None, chunk: int,
) -> None:
    """The whole message (file, field, line, reason) is what a user sees; block size never changes it."""
    import io
    import warnings

    from crisp_eml.data.formats.csv_series import parse_csv_stream

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow/invalid arithmetic on absurd values stays silent
        with pytest.raises(InputError) as info:
            parse_csv_stream(io.BytesIO(data), "s.csv", frequency_hz=hz, chunk_bytes=chunk)
    where = f"field '{field}': " if field else ""
    assert str(info.value) == f"s.csv: {where}{message}"
    assert info.value.source == "s.csv" and info.value.field == field


@pytest.mark.parametrize(
    ("data", "hz", "rows", "freq"),
    [
        (b"timestamp,a\n0,1\n", 7, [[1.0]], 7),  # one row: the given frequency is used
        (b"timestamp,a\n0,1\n10,2\n", 110, [[1.0], [2.0]], 100.0),  # 10 % off is tolerated, timestamps win
        (b"timestamp,a\n0,1\n10,2\n", 90, [[1.0], [2.0]], 100.0),
        (b"timestamp,a\n0,1\n10,2\n20,3\n31,4\n", None, [[1.0], [2.0], [3.0], [4.0]], 96.774193548),  # exactly 10 %
        (b"timestamp,a\n1000,1\n1010,2\n1020,3\n", None, [[1.0], [2.0], [3.0]], 100.0),  # not from 0
        (b'"timestamp","a (g)"\n0,"1"\n10, " 2 " \n', None, [[1.0], [2.0]], 100.0),
        (b"a,b\n1,2\n   \n3,4\n", 10, [[1.0, 2.0], [3.0, 4.0]], 10),  # a whitespace-only line is blank
        (b"a\n3.4028235677973362e38\n", 10, [[3.4028234663852886e38]], 10),  # the largest value rounding to FLT_MAX
        (b"a\n1\n\n", 10, [[1.0]], 10),
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_accepted_edge_cases(data: bytes, hz: float | None, rows: list[list[float]], freq: float, chunk: int) -> None:
    import io
    import warnings

    from crisp_eml.data.formats.csv_series import parse_csv_stream

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = parse_csv_stream(io.BytesIO(data), "s.csv", frequency_hz=hz, chunk_bytes=chunk)
    assert p.array.tolist() == rows and p.frequency_hz == freq


def test_header_units_and_quotes() -> None:
    assert split_header("accX []") == Sensor("accX", None)
    assert split_header("accX ( )") == Sensor("accX", None)
    assert split_header("accX [ g ]") == Sensor("accX", "g")
    p = parse_csv(b'"timestamp","accX (m/s2)"\n0,1\n10,2\n', "q.csv")
    assert p.sensors == (Sensor("accX", "m/s2"),)


def test_given_frequency_is_checked_and_names_the_file() -> None:
    with pytest.raises(InputError) as info:
        parse_csv(b"a\n1\n", "f.csv", frequency_hz=-1.0)
    assert info.value.source == "f.csv" and info.value.field == "frequency"


def test_too_many_columns_names_the_header() -> None:
    data = (",".join(f"c{i}" for i in range(65)) + "\n" + ",".join("1" for _ in range(65)) + "\n").encode()
    with pytest.raises(InputError) as info:
        parse_csv(data, "w.csv", frequency_hz=10)
    assert str(info.value) == "w.csv: field 'header': 65 value columns, more than the 64 a sample may have"


def test_write_csv_text_is_exact() -> None:
    """float64 input is stored as float32 first; 9 significant digits; lower-case exponent."""
    out = write_csv(np.array([[0.1, 1e-10], [3, -2.5e20]], dtype=np.float64), [Sensor("a", "g"), Sensor("b")], 3.0)
    assert out == b"timestamp,a (g),b\n0.0,0.100000001,1.00000001e-10\n333.3333333333333,3,-2.50000005e+20\n"


def test_irregular_step_found_beyond_the_first_million() -> None:
    """The deviation scan runs over bounded slices: a bad step in the second slice is still found."""
    n = (1 << 20) + 10
    t = np.arange(n, dtype=np.int64) * 10
    t[(1 << 20) + 5:] += 25  # one 35 ms step at data row 2**20 + 5
    text = "timestamp,a\n" + "".join(f"{v},1\n" for v in t.tolist())
    with pytest.raises(InputError, match=rf"interval 35 ms at line {(1 << 20) + 7} vs median 10 ms"):
        parse_csv(text.encode(), "long.csv")

"""Reading candle files and the arithmetic of buckets, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from du_core.errors import InvalidInput
from du_core.market import candles, importer
from du_core.market.importer import _RowError, guess_format, parse_csv, parse_json, parse_number, parse_time

D = Decimal
UTC = timezone.utc
NOW = datetime(2026, 11, 30, tzinfo=UTC)
DAY1 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value,expected", [
    ("2024-01-01", DAY1),
    ("2024-01-01T00:00:00", DAY1),
    ("2024-01-01 00:00:00", DAY1),
    ("2024-01-01T00:00:00Z", DAY1),
    ("2024-01-01T07:00:00+07:00", DAY1),
    ("2023-12-31T19:00:00-05:00", DAY1),
    (1704067200, DAY1),
    ("1704067200", DAY1),
    (" 1704067200 ", DAY1),
    ("1704067200.000", DAY1),
    (D("1704067200"), DAY1),
    (1704067200000, DAY1),
    ("1704067200000", DAY1),
    (1704067200123, DAY1 + timedelta(milliseconds=123)),
    (0, datetime(1970, 1, 1, tzinfo=UTC)),
])
def test_times_are_iso_dates_or_epoch_seconds_or_milliseconds_in_utc(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize("value,message", [
    ("yesterday", "not an ISO 8601"),
    ("2024-13-01", "not an ISO 8601"),
    ("01/02/2024", "not an ISO 8601"),
    ("-1704067200", "not an ISO 8601"),
    (-5, "before 1970"),
    (True, "not a date"),
    (None, "not a date"),
    (D("1704067200.5"), "fraction of a second"),
    (10**19, "out of range"),
])
def test_a_time_that_is_not_one_is_refused(value, message):
    with pytest.raises(_RowError, match=message):
        parse_time(value)


@pytest.mark.parametrize("value,expected", [
    ("1.5", D("1.5")), (" 42000.01000000 ", D("42000.01")), ("1e-5", D("0.00001")), ("1.5E+3", D("1500")),
    (".5", D("0.5")), ("5.", D("5")), ("+3", D("3")), ("-3", D("-3")), (7, D("7")), (D("0.1"), D("0.1")),
    ("0.000000000000000001", D("1E-18")),
])
def test_numbers_are_read_exactly(value, expected):
    assert parse_number(value, "open") == expected


@pytest.mark.parametrize("value,message", [
    ("", "open is empty"), ("abc", "not a number"), ("1,5", "not a number"), ("0x10", "not a number"),
    ("NaN", "not a number"), ("Infinity", "not a number"), ("1_000", "not a number"), ("１", "not a number"),
    ("0.0000000000000000001", "more than 18 decimal places"), ("1" * 21, "too large"), (True, "not a number"),
    (None, "missing"), (1.5, "not a number"),
])
def test_a_number_that_is_not_one_is_refused(value, message):
    with pytest.raises(_RowError, match=message):
        parse_number(value, "open")


def csv(text: str, interval: str = "1d") -> list[importer.ImportedCandle]:
    return parse_csv(text.encode(), interval=interval, now=NOW)


def test_csv_headers_are_case_insensitive_extra_columns_ignored_and_rows_sorted():
    rows = csv("Date,Open,High,Low,Close,Adj Close,Volume\n"
               "2024-01-02,2,3,1,2.5,2.4,100\n"
               "2024-01-01,1,2,0.5,1.5,1.4,200\n")
    assert [(r.start.day, r.open, r.close, r.volume, r.quote_volume, r.trades) for r in rows] == [
        (1, D("1"), D("1.5"), D("200"), None, None), (2, D("2"), D("2.5"), D("100"), None, None)]


def test_csv_without_a_volume_column_has_volume_zero_and_takes_binance_names():
    assert csv("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")[0].volume == D(0)
    row = csv("Open Time,Open,High,Low,Close,Volume,Quote Asset Volume,Number of Trades\n"
              "1704067200000,1,2,0.5,1.5,10,15,7\n")[0]
    assert (row.start, row.volume, row.quote_volume, row.trades) == (DAY1, D("10"), D("15"), 7)


@pytest.mark.parametrize("text", [
    "time;open;high;low;close\r\n2024-01-01;1;2;0.5;1.5\r\n",
    "time\topen\thigh\tlow\tclose\n2024-01-01\t1\t2\t0.5\t1.5\n",
    "\ufefftime,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n",
    '"time","open","high","low","close"\n"2024-01-01","1","2","0.5","1.5"\n',
    "\n\ntime,open,high,low,close\n\n2024-01-01,1,2,0.5,1.5\n\n",
])
def test_csv_dialects_semicolons_tabs_bom_quotes_and_blank_lines(text):
    assert [(r.start, r.close) for r in csv(text)] == [(DAY1, D("1.5"))]


@pytest.mark.parametrize("text,message", [
    ("time,date,open,high,low,close\n", "several time columns (time, date)"),
    ("time,open,Open,high,low,close\n", "names the column 'open' twice"),
    ("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5,9\n", "row 1 (line 2): has 6 values"),
    ('time,open,high,low,close\n2024-01-01,"1,2,0.5,1.5\n', "not valid CSV"),
    ("time,open,high,low,close\n2024-01-01T00:00:00,1,2,0.5,1.5\n2024-01-01T00:01:00,1,2,0.5,1.5\n",
     "row 2 (line 3): time 2024-01-01T00:01:00+00:00 is not the start of a 1d candle"),
    ("time,open,high,low,close,trades\n2024-01-01,1,2,0.5,1.5,2.5\n", "not a whole number of trades"),
])
def test_csv_problems_name_the_row_and_line(text, message):
    with pytest.raises(InvalidInput) as refused:
        csv(text)
    assert message in refused.value.message


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(InvalidInput, match="not UTF-8"):
        parse_csv("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5 \xa9\n".encode("latin-1"), interval="1d", now=NOW)


def test_minute_candles_are_checked_against_their_own_interval():
    rows = csv("time,open,high,low,close\n2024-01-01T00:05:00Z,1,2,0.5,1.5\n2024-01-01T00:10:00Z,1,2,0.5,1.5\n",
               interval="5m")
    assert [r.start.minute for r in rows] == [5, 10]
    with pytest.raises(InvalidInput, match="not the start of a 15m candle"):
        csv("time,open,high,low,close\n2024-01-01T00:05:00Z,1,2,0.5,1.5\n", interval="15m")


def js(text: str, interval: str = "1d") -> list[importer.ImportedCandle]:
    return parse_json(text.encode(), interval=interval, now=NOW)


def test_json_takes_objects_arrays_and_an_object_holding_them():
    objects = js('[{"Time": "2024-01-01", "OPEN": 1, "high": 2.0, "low": 0.5, "close": "1.5", "volume": 3}]')
    arrays = js('[[1704067200, "1", "2", "0.5", "1.5", "3"]]')
    wrapped = js('{"symbol": "X", "data": [[1704067200000, 1, 2, 0.5, 1.5, 3]]}')
    short = js('{"Candles": [[1704067200000, 1, 2, 0.5, 1.5]]}')
    for rows in (objects, arrays, wrapped):
        assert [(r.start, r.open, r.high, r.low, r.close, r.volume) for r in rows] == [
            (DAY1, D(1), D(2), D("0.5"), D("1.5"), D(3))]
    assert short[0].volume == D(0)


def test_json_floats_are_read_as_the_decimals_written_not_as_binary_floats():
    row = js('[{"time": 1704067200, "open": 0.1, "high": 0.30000000000000004, "low": 0.1, "close": 0.2}]')[0]
    assert (row.open, row.high) == (D("0.1"), D("0.30000000000000004"))


def test_binance_klines_bring_quote_volume_and_trade_count():
    row = js('[[1704067200000, "42000.00000000", "44146.80000000", "41439.60000000", "43042.00000000",'
             ' "28033.61065000", 1704153599999, "1206622669.59730000", 1769877, "14016.8", "603311334.7", "0"]]')[0]
    assert (row.close, row.volume, row.quote_volume, row.trades) == (
        D("43042"), D("28033.61065"), D("1206622669.5973"), 1769877)


@pytest.mark.parametrize("text,message", [
    ("[[1704067200, 1, 2, 0.5]]", "row 1: an array needs at least time, open, high, low and close"),
    ('["2024-01-01"]', "row 1: a candle is an object or an array"),
    ('"candles"', "neither a list of candles"),
    ("{}", '"candles" or "data"'),
    ("[]", "holds no candles"),
    ('[{"time": 1704067200, "open": 1, "high": 2, "low": 0.5, "close": 1.5}, 7]', "row 2: a candle is an object"),
    ('[{"open": 1, "high": 2, "low": 0.5, "close": 1.5}]', "row 1 has no time column"),
    ('[{"time": true, "open": 1, "high": 2, "low": 0.5, "close": 1.5}]', "row 1: time 'True' is not a date"),
    ('[{"time": 1704067200, "open": Infinity, "high": 2, "low": 0.5, "close": 1.5}]', "Infinity"),
    ("[1704067200, 1", "not valid JSON (line 1"),
])
def test_json_problems_name_the_row(text, message):
    with pytest.raises(InvalidInput) as refused:
        js(text)
    assert message in refused.value.message


@pytest.mark.parametrize("data,url,content_type,expected", [
    (b"time,open", "https://x.example/a.JSON", None, "json"),
    (b"[[1]]", "https://x.example/a.csv?x=1", None, "csv"),
    (b"time,open", None, "application/json; charset=utf-8", "json"),
    (b"[[1]]", None, "text/csv", "csv"),
    (b"  \n [[1]]", None, "text/plain", "json"),
    (b"\xef\xbb\xbf{\"data\": []}", None, None, "json"),
    (b"Date,Open", "https://x.example/download", None, "csv"),
    (b"Date,Open", "prices.json", None, "json"),  # a file name decides as a URL does
])
def test_the_format_is_guessed_from_the_name_the_content_type_then_the_content(data, url, content_type, expected):
    assert guess_format(data, url=url, content_type=content_type) == expected


# buckets


@pytest.mark.parametrize("interval,available,expected", [
    ("1h", ["1m", "5m", "15m", "1h", "4h", "1d"], "1h"),
    ("1d", ["1m", "1h"], "1h"),
    ("1d", ["1m", "5m", "15m", "4h"], "4h"),
    ("4h", ["1d"], None),
    ("1m", ["5m"], None),
    ("15m", ["1m", "5m"], "5m"),
    ("1d", [], None),
])
def test_a_missing_interval_is_read_from_the_coarsest_finer_one(interval, available, expected):
    assert candles.source_interval(interval, available) == expected


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(list(candles.INTERVALS)))
def test_a_moment_lies_in_its_bucket_and_the_bucket_start_is_aligned(moment, interval):
    start = candles.bucket_start(moment, interval)
    assert start <= moment < start + timedelta(seconds=candles.INTERVALS[interval])
    assert candles.is_aligned(start, interval)
    assert candles.is_aligned(moment, interval) == (moment == start)
    assert int(start.timestamp()) % candles.INTERVALS[interval] == 0


@pytest.mark.parametrize("url,shown", [
    ("https://data.example.com/a.csv", "https://data.example.com/a.csv"),
    ("https://me:hunter2@data.example.com/a.csv?symbol=X", "https://data.example.com/a.csv?symbol=X"),
    ("https://data.example.com/q?symbol=AAPL&apikey=s3cr3t&interval=1d",
     "https://data.example.com/q?symbol=AAPL&apikey=[redacted]&interval=1d"),
    ("https://x.example/k?access_token=a&Signature=b&X-Amz-Credential=c#frag",
     "https://x.example/k?access_token=[redacted]&Signature=[redacted]&X-Amz-Credential=[redacted]"),
])
def test_a_url_is_stored_and_shown_without_its_credentials(url, shown):
    assert importer.safe_url(url) == shown

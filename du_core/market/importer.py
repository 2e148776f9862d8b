"""Reading candles from CSV and JSON files, and fetching such files from a URL.

A file is read whole and checked row by row before anything is stored: the first bad row stops
the import with its number and what is wrong with it. What is accepted:

- CSV with a header row. Column names are case-insensitive: a time column named time, timestamp,
  date, datetime or open_time; open, high, low and close; optional volume (0 when there is no
  such column), quote_volume (or quote_asset_volume) and trades (or number_of_trades). Other
  columns (Adj Close, close_time, ...) are ignored. Commas, or semicolons or tabs when the header
  has no comma.
- JSON: a list of objects with the same keys, a list of arrays `[time, open, high, low, close,
  volume, ...]` (Binance klines: index 7 is the quote volume, 8 the number of trades), or an
  object holding such a list under "candles" or "data".
- Times: ISO 8601 dates or date-times (UTC when they carry no offset), or epoch seconds or
  milliseconds (numbers from 100 000 000 000 up are milliseconds). Numbers: plain decimals,
  exponents allowed, at most 18 decimal places and 20 integer digits; never NaN or Infinity.

`fetch` downloads with httpx through an optional transport (tests serve files from 127.0.0.1 or
answer through `httpx.MockTransport`), with a timeout and a size cap.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from du_core.errors import InvalidInput, Unavailable
from du_core.market.candles import EPOCH, is_aligned

if TYPE_CHECKING:
    import httpx

MAX_BYTES = 64_000_000
MAX_ROWS = 500_000
TIMEOUT_SECONDS = 30.0
MILLISECONDS_FROM = 100_000_000_000  # as seconds that would be the year 5138
TIME_COLUMNS = ("time", "timestamp", "date", "datetime", "open_time")
ALIASES = {"quote_asset_volume": "quote_volume", "number_of_trades": "trades"}
REQUIRED = ("open", "high", "low", "close")
MAX_PLACES = 18
LIMIT = Decimal(10) ** 20
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?", re.ASCII)
_DIGITS = re.compile(r"\d{1,20}", re.ASCII)
_EPOCH_FRACTION = re.compile(r"(\d{1,20})\.0*", re.ASCII)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class ImportedCandle:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal | None
    trades: int | None


class _RowError(ValueError):
    """What is wrong with one value of a row (the row's number is added by the caller)."""


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_time(value: object) -> datetime:
    """A candle's time: an ISO 8601 date or date-time (naive = UTC), or epoch seconds or milliseconds."""
    if isinstance(value, bool):
        raise _RowError(f"time {_show(value)} is not a date, a date-time or an epoch time")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise _RowError(f"time {_show(value)} has a fraction of a second")
        value = int(value)
    if isinstance(value, int):
        return _epoch(value)
    if not isinstance(value, str):
        raise _RowError(f"time {_show(value)} is not a date, a date-time or an epoch time")
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return _epoch(int(text))
    whole = _EPOCH_FRACTION.fullmatch(text)
    if whole:
        return _epoch(int(whole.group(1)))
    try:
        if _DAY.fullmatch(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(f"time {_show(value)} is not an ISO 8601 date or date-time, nor an epoch time") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _epoch(number: int) -> datetime:
    if number < 0:
        raise _RowError(f"time {number} is before 1970")
    try:
        if number >= MILLISECONDS_FROM:
            return EPOCH + timedelta(milliseconds=number)
        return EPOCH + timedelta(seconds=number)
    except OverflowError:
        raise _RowError(f"time {number} is out of range") from None


def parse_number(value: object, field: str) -> Decimal:
    """A price or volume: a decimal number, exactly as written (never through a float)."""
    if isinstance(value, bool) or value is None:
        raise _RowError(f"{field} is missing or not a number")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise _RowError(f"{field} is empty")
        if not _NUMBER.fullmatch(text):
            raise _RowError(f"{field} {_show(value)} is not a number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _RowError(f"{field} {_show(value)} is not a number") from None
    else:
        raise _RowError(f"{field} {_show(value)} is not a number")
    if not number.is_finite():
        raise _RowError(f"{field} is not a finite number")
    if abs(number) >= LIMIT:
        raise _RowError(f"{field} {_show(value)} is too large")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_PLACES:
        raise _RowError(f"{field} {_show(value)} has more than {MAX_PLACES} decimal places")
    return number


def _count(value: object) -> int:
    number = parse_number(value, "trades")
    if number < 0 or number != number.to_integral_value():
        raise _RowError(f"trades {_show(value)} is not a whole number of trades")
    return int(number)


def _candle(values: dict[str, Any], *, interval: str, now: datetime) -> ImportedCandle:
    """One row's candle, every rule checked; raises _RowError naming what is wrong."""
    start = parse_time(values["time"])
    if not is_aligned(start, interval):
        raise _RowError(f"time {start.isoformat()} is not the start of a {interval} candle (candles of "
                        f"{interval} start at whole multiples of {interval} from 1970-01-01 00:00 UTC)")
    if start > now:
        raise _RowError(f"time {start.isoformat()} is in the future")
    o, h, lo, c = (parse_number(values[name], name) for name in REQUIRED)
    for name, number in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if number <= 0:
            raise _RowError(f"{name} must be greater than zero (found {number})")
    if h < max(o, c):
        raise _RowError(f"high {h} is below the {'open' if o > c else 'close'} {max(o, c)}")
    if lo > min(o, c):
        raise _RowError(f"low {lo} is above the {'open' if o < c else 'close'} {min(o, c)}")
    volume = parse_number(values["volume"], "volume") if "volume" in values else Decimal(0)
    if volume < 0:
        raise _RowError(f"volume must not be negative (found {volume})")
    quote_volume = None
    if "quote_volume" in values:
        quote_volume = parse_number(values["quote_volume"], "quote_volume")
        if quote_volume < 0:
            raise _RowError(f"quote_volume must not be negative (found {quote_volume})")
    trades = _count(values["trades"]) if "trades" in values else None
    return ImportedCandle(start, o, h, lo, c, volume, quote_volume, trades)


def _column(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return ALIASES.get(key, key)


def _keys(names: list[str], *, where: str) -> dict[str, int]:
    """The position of each column we read, by our name for it.

    Raises:
        InvalidInput: no time column or several, a price column missing, or a column named twice.
    """
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = _column(raw)
        if name in seen and name:
            raise InvalidInput(f"{where} names the column {name!r} twice", details={"column": name})
        seen[name] = i
    times = [name for name in TIME_COLUMNS if name in seen]
    if not times:
        raise InvalidInput(f"{where} has no time column: name it time, timestamp, date, datetime or open_time",
                           details={"columns": names[:20]})
    if len(times) > 1:
        raise InvalidInput(f"{where} has several time columns ({', '.join(times)}): keep one",
                           details={"columns": times})
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise InvalidInput(f"{where} has no {', '.join(missing)} column", details={"missing": missing})
    keys = {"time": seen[times[0]], **{name: seen[name] for name in REQUIRED}}
    keys.update({name: seen[name] for name in ("volume", "quote_volume", "trades") if name in seen})
    return keys


def _finish(candles: list[tuple[ImportedCandle, int, str]]) -> list[ImportedCandle]:
    """The candles in time order, refusing an empty file or a time given twice."""
    if not candles:
        raise InvalidInput("the file holds no candles")
    first: dict[datetime, int] = {}
    for candle, number, label in candles:
        if candle.start in first:
            raise InvalidInput(f"{label}: time {candle.start.isoformat()} repeats row {first[candle.start]}",
                               details={"row": number, "same_as_row": first[candle.start]})
        first[candle.start] = number
    return sorted((c for c, _, _ in candles), key=lambda c: c.start)


def _row_error(label: str, number: int, exc: _RowError, line: int | None = None) -> InvalidInput:
    details: dict[str, Any] = {"row": number}
    if line is not None:
        details["line"] = line
    return InvalidInput(f"{label}: {exc}", details=details)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text (byte {exc.start})") from None


def parse_csv(data: bytes, *, interval: str, now: datetime) -> list[ImportedCandle]:
    """The candles of a CSV file with a header row.

    Raises:
        InvalidInput: the first problem, naming its row (the first row after the header is row 1)
            and its line in the file.
    """
    text = _text(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "," if "," in first_line else ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    keys: dict[str, int] | None = None
    width = 0
    candles: list[tuple[ImportedCandle, int, str]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if keys is None:
                keys, width = _keys(cells, where="the header"), len(cells)
                continue
            number = len(candles) + 1
            label = f"row {number} (line {reader.line_num})"
            if number > MAX_ROWS:
                raise InvalidInput(f"the file holds more than {MAX_ROWS} candles; split it", details={"row": number})
            if len(cells) != width:
                raise InvalidInput(f"{label}: has {len(cells)} values, the header names {width} columns",
                                   details={"row": number, "line": reader.line_num})
            values = {name: cells[i] for name, i in keys.items()}
            try:
                candles.append((_candle(values, interval=interval, now=now), number, label))
            except _RowError as exc:
                raise _row_error(label, number, exc, reader.line_num) from None
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})",
                           details={"line": reader.line_num}) from None
    if keys is None:
        raise InvalidInput("the file is empty: a CSV import needs a header row and at least one candle")
    return _finish(candles)


def _no_constants(name: str) -> object:
    raise InvalidInput(f"the file holds {name}, which is not a number")


def parse_json(data: bytes, *, interval: str, now: datetime) -> list[ImportedCandle]:
    """The candles of a JSON document (see the module docstring for its shapes).

    Raises:
        InvalidInput: not JSON, not one of the shapes, or the first bad row (the first is row 1).
    """
    try:
        doc = json.loads(_text(data), parse_float=Decimal, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if isinstance(doc, dict):
        inner = {_column(k): v for k, v in doc.items()}
        doc = inner.get("candles", inner.get("data"))
        if not isinstance(doc, list):
            raise InvalidInput('a JSON object must hold its candles as a list under "candles" or "data"')
    if not isinstance(doc, list):
        raise InvalidInput("the JSON document is neither a list of candles nor an object holding one")
    if len(doc) > MAX_ROWS:
        raise InvalidInput(f"the file holds more than {MAX_ROWS} candles; split it")
    candles: list[tuple[ImportedCandle, int, str]] = []
    for number, item in enumerate(doc, start=1):
        label = f"row {number}"
        if isinstance(item, dict):
            pairs = list(item.items())
            keys = _keys([str(k) for k, _ in pairs], where=label)
            values = {name: pairs[i][1] for name, i in keys.items()}
        elif isinstance(item, list):
            if len(item) < 5:
                raise InvalidInput(f"{label}: an array needs at least time, open, high, low and close",
                                   details={"row": number})
            values = dict(zip(("time", *REQUIRED, "volume"), item))
            if len(item) >= 9:  # Binance klines: close_time, quote asset volume, number of trades
                values.update(quote_volume=item[7], trades=item[8])
        else:
            raise InvalidInput(f"{label}: a candle is an object or an array", details={"row": number})
        try:
            candles.append((_candle(values, interval=interval, now=now), number, label))
        except _RowError as exc:
            raise _row_error(label, number, exc) from None
    return _finish(candles)


def guess_format(data: bytes, *, url: str | None = None, content_type: str | None = None) -> str:
    """csv or json: from the URL's file name, else the content type, else the first character."""
    path = (url or "").split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(".json"):
        return "json"
    if path.endswith((".csv", ".txt")):
        return "csv"
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind.endswith("json"):
        return "json"
    if kind in ("text/csv", "application/csv"):
        return "csv"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head[:1] in (b"[", b"{") else "csv"


def parse(data: bytes, *, fmt: str, interval: str, now: datetime) -> list[ImportedCandle]:
    """The candles of a file in `fmt` (csv or json), in time order, every row checked."""
    return (parse_json if fmt == "json" else parse_csv)(data, interval=interval, now=now)


_SECRET_PARAM = re.compile(r"key|token|secret|sig|signature|pass|auth|credential", re.IGNORECASE)


def safe_url(url: str) -> str:
    """`url` fit to store and show: without user info, and with the values of query parameters that
    look like credentials (apikey, token, signature, ...) replaced by [redacted]."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, "[redacted]" if _SECRET_PARAM.search(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="[]")
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None


def fetch(url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = TIMEOUT_SECONDS,
          max_bytes: int | None = None) -> Fetched:
    """Download a file of candles (at most `max_bytes`, MAX_BYTES by default).

    Raises:
        Unavailable: the source cannot be reached, answers with an error, or sends too much.
    """
    import httpx

    from du_core import __version__

    transport = transport if transport is not None else _transport
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    shown = safe_url(url)
    try:
        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=True, max_redirects=5,
                          headers={"User-Agent": f"digital-utopia/{__version__}"}) as client:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Unavailable(f"the candle source answered HTTP {response.status_code}",
                                      details={"url": shown, "status": response.status_code})
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise Unavailable(f"the candle source sends {int(declared)} bytes, more than the "
                                      f"{max_bytes} an import takes", details={"url": shown, "limit_bytes": max_bytes})
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise Unavailable(f"the candle source sent more than the {max_bytes} bytes an import "
                                          "takes", details={"url": shown, "limit_bytes": max_bytes})
                content_type = response.headers.get("content-type")
    except httpx.TimeoutException:
        raise Unavailable(f"the candle source did not answer within {timeout:g} s; try again later",
                          details={"url": shown}) from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"the candle source cannot be reached ({type(exc).__name__}); try again later",
                          details={"url": shown}) from None
    return Fetched(bytes(body), content_type)


_transport: httpx.BaseTransport | None = None


def configure(transport: httpx.BaseTransport | None) -> None:
    """Send every later fetch through `transport` (None: the network)."""
    global _transport
    _transport = transport

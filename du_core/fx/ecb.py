"""The European Central Bank's daily euro foreign exchange reference rates: fetching and reading them.

The ECB publishes one small XML file (gesmes envelope, `Cube` elements) each working day at
around 16:00 Frankfurt time, quoting 1 EUR in about thirty currencies. `EcbClient` fetches it with
httpx through an optional transport (tests serve a recorded copy from 127.0.0.1 or through
`httpx.MockTransport`); `parse_daily` reads it with expat and refuses a DOCTYPE or any entity
declaration outright, which is what defusedxml does, without adding a dependency for one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from du_core.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
BASE = "EUR"
TIMEOUT_SECONDS = 10.0
MAX_BYTES = 1_000_000  # the real file is under 2 kB
PUBLISHED_AT = time(16, 0)
FRANKFURT = ZoneInfo("Europe/Berlin")  # the ECB's "16:00 CET" is Frankfurt's local time, CEST in summer
RATE_PLACES = 18  # the scale of fx_rates.rate

GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_SEP = "|"
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class RatesFileError(ValueError):
    """The document is not the ECB's daily rates file (or breaks its format)."""


@dataclass(frozen=True)
class DailyRates:
    """One day's reference rates: 1 EUR = `rates[code]` units of `code`, published at `as_of` (UTC)."""

    day: date
    as_of: datetime
    rates: dict[str, Decimal]


def published_at(day: date) -> datetime:
    """The moment the rates of `day` are published (16:00 in Frankfurt), in UTC."""
    return datetime.combine(day, PUBLISHED_AT, tzinfo=FRANKFURT).astimezone(timezone.utc)


def parse_daily(data: bytes) -> DailyRates:
    """Read the daily rates file.

    Raises:
        RatesFileError: not well-formed XML, a DOCTYPE or entity declaration, not the gesmes
            envelope of the ECB, no or several days, a repeated currency, or a rate that is not a
            plain positive decimal.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator=_SEP)
    elements: list[tuple[str, dict[str, str]]] = []

    def refuse(*_: object) -> None:
        raise RatesFileError("the file declares a DOCTYPE or entities, which the ECB's file never does")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = lambda name, attrs: elements.append((name, attrs))
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise RatesFileError(f"not well-formed XML ({expat.ErrorString(exc.code)}, line {exc.lineno})") from None
    if not elements or elements[0][0] != f"{GESMES_NS}{_SEP}Envelope":
        raise RatesFileError("not the ECB's gesmes envelope")
    cube = f"{EUROFXREF_NS}{_SEP}Cube"
    days = [attrs["time"] for name, attrs in elements if name == cube and "time" in attrs]
    if len(days) != 1 or not _DAY.fullmatch(days[0]):
        raise RatesFileError("the file should hold exactly one day of rates, with its date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(days[0])
    except ValueError:
        raise RatesFileError(f"{days[0]!r} is not a date") from None
    rates: dict[str, Decimal] = {}
    for name, attrs in elements:
        if name != cube or "currency" not in attrs:
            continue
        code = attrs["currency"]
        if not _CURRENCY.fullmatch(code):
            raise RatesFileError(f"{code[:10]!r} is not a currency code")
        if code in rates:
            raise RatesFileError(f"{code} is quoted twice")
        rates[code] = _rate(code, attrs.get("rate", ""))
    if not rates:
        raise RatesFileError("the file quotes no currency")
    return DailyRates(day=day, as_of=published_at(day), rates=rates)


def _rate(code: str, text: str) -> Decimal:
    from du_core.money import parse_amount

    try:
        return parse_amount(text, RATE_PLACES, field=f"the rate of {code}")
    except InvalidInput as exc:
        raise RatesFileError(exc.message) from None


class EcbClient:
    """Fetches the daily rates file from `url`; `transport` replaces the network (tests, proxies)."""

    def __init__(self, url: str = DEFAULT_URL, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.transport = transport
        self.timeout = timeout

    def fetch(self) -> DailyRates:
        """Download and read today's file.

        Raises:
            Unavailable: the source cannot be reached, answers with an error or too much, or what it
                sends is not the daily rates file.
        """
        import httpx

        from du_core import __version__

        try:
            with httpx.Client(transport=self.transport, timeout=self.timeout, follow_redirects=True,
                              headers={"User-Agent": f"digital-utopia/{__version__}"}) as client:
                with client.stream("GET", self.url) as response:
                    if response.status_code != 200:
                        raise Unavailable(f"the ECB rates source answered HTTP {response.status_code}; try again "
                                          "later", details={"url": self.url, "status": response.status_code})
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BYTES:
                            raise Unavailable("the ECB rates source sent more than a rates file holds",
                                              details={"url": self.url, "limit_bytes": MAX_BYTES})
        except httpx.TimeoutException:
            raise Unavailable(f"the ECB rates source did not answer within {self.timeout:g} s; try again later",
                              details={"url": self.url}) from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"the ECB rates source cannot be reached ({type(exc).__name__}); try again later",
                              details={"url": self.url}) from None
        try:
            return parse_daily(bytes(body))
        except RatesFileError as exc:
            raise Unavailable(f"the ECB rates source sent something other than its daily rates: {exc}",
                              details={"url": self.url}) from None


_transport: httpx.BaseTransport | None = None


def configure(transport: httpx.BaseTransport | None) -> None:
    """Send every later fetch through `transport` (None: the network)."""
    global _transport
    _transport = transport


def client(url: str = DEFAULT_URL) -> EcbClient:
    """A client for `url` over the configured transport."""
    return EcbClient(url, transport=_transport)

"""Gross and net exposure, by asset and by currency, of one user or of the whole platform.

All amounts are in one base currency (the user's, or USD for the platform), priced as
`portfolio.valuation` prices holdings. For each asset A:

    holdings    value of what is held of A (ledger available + held, plus external holdings)
    open_buy    open buy orders whose instrument's base asset is A: remaining quantity x limit
                (or stop) price, an amount of the quote currency, valued in the base currency
    open_sell   open sell orders of A: remaining quantity of A valued at A's price
    gross       holdings + open_buy + open_sell        (what A could amount to, either way)
    net         holdings + open_buy - open_sell        (what A amounts to if every order fills)

An order counts on the asset it buys or sells; its quote leg is not counted again (money reserved
for a buy is still in the holdings, as held cash). By currency: the same figures summed over the
currency each asset is priced in (the instrument's quote for orders; the asset itself for cash).
The totals leave out cash in the base currency (`base_cash`): it has no price risk. An asset that
cannot be priced is listed in `unvalued` and counted nowhere.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.db import fast
from du_core.money import quantize_down
from du_core.portfolio import valuation as pv
from du_core.risk.schemas import (
    AssetExposure, CurrencyExposure, ExposureView, PlatformExposureView, Unvalued, UserExposure,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
OPEN = "('pending_trigger', 'open', 'partially_filled')"
DEFINITIONS = {
    "holdings": "value of what is held (ledger available + held, and external holdings)",
    "open_buy": "open buy orders of the asset: remaining quantity x limit (or stop) price, in the base currency",
    "open_sell": "open sell orders of the asset: remaining quantity x the asset's price, in the base currency",
    "gross": "holdings + open_buy + open_sell",
    "net": "holdings + open_buy - open_sell (as if every open order filled)",
    "totals": "sums over every asset except cash in the base currency (base_cash), which has no price risk",
    "currency": "the currency an asset is priced in (the instrument's quote for orders; cash is its own)",
}

_ORDERS = f"""
SELECT o.user_id, i.base, i.quote, o.side, count(*),
       sum(coalesce(o.price, o.stop_price) * (o.quantity - o.filled)), sum(o.quantity - o.filled)
FROM orders o JOIN instruments i ON i.symbol = o.symbol
WHERE o.status IN {OPEN} {{who}}
GROUP BY o.user_id, i.base, i.quote, o.side
"""


@dataclass
class Priced:
    """The price of one unit of an asset or symbol in the base currency, and the currency it is quoted in."""

    price: Decimal | None
    currency: str
    cash: bool
    reason: str | None


class Pricer:
    """The price of one unit of an asset or symbol in `base`, as the valuation prices it, each once."""

    def __init__(self, session: Session, base: str) -> None:
        self.base = base
        self._valuer = pv.Pricer(session, base)
        self._cache: dict[tuple[str, str | None], Priced] = {}

    def __call__(self, code: str, currency: str | None = None) -> Priced:
        key = (code, currency)
        if key not in self._cache:
            h = self._valuer.holding(code, source="platform", quantity=Decimal(1), currency=currency)
            quoted = code if h.cash else (h.currency or self.base)
            self._cache[key] = Priced(h.price, quoted, h.cash, None if h.price is not None else h.reason or "no price")
        return self._cache[key]


@dataclass
class _Row:
    currency: str
    cash: bool
    holdings: Decimal = ZERO
    open_buy: Decimal = ZERO
    open_sell: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return self.holdings + self.open_buy + self.open_sell

    @property
    def net(self) -> Decimal:
        return self.holdings + self.open_buy - self.open_sell


class Book:
    """Exposure rows being added up: per asset, for one user or many."""

    def __init__(self, base: str, places: int) -> None:
        self.base, self.places = base, places
        self.assets: dict[str, _Row] = {}
        self.unvalued: list[Unvalued] = []
        self.open_orders = 0

    def row(self, asset: str, priced: Priced) -> _Row:
        return self.assets.setdefault(asset, _Row(priced.currency, priced.cash))

    def is_base_cash(self, asset: str) -> bool:
        row = self.assets[asset]
        return row.cash and asset == self.base

    def add_order(self, pricer: Pricer, base_asset: str, quote: str, side: str, count: int,
                  notional: Decimal | None, quantity: Decimal) -> None:
        """Count `count` open orders of one side of the instrument base_asset-quote."""
        self.open_orders += count
        asset = pricer(base_asset)
        if side == "buy":
            money = pricer(quote)
            if notional is None or money.price is None:
                self.unvalued.append(Unvalued(symbol=f"{base_asset}-{quote}", source="open_buy_orders",
                                              quantity=quantity, reason=money.reason or "no limit price"))
                return
            row = self.row(base_asset, asset if asset.price is not None else Priced(None, quote, False, None))
            row.open_buy += notional * money.price
        else:
            if asset.price is None:
                self.unvalued.append(Unvalued(symbol=f"{base_asset}-{quote}", source="open_sell_orders",
                                              quantity=quantity, reason=asset.reason or "no price"))
                return
            self.row(base_asset, asset).open_sell += quantity * asset.price

    def _q(self, amount: Decimal) -> Decimal:
        return quantize_down(amount, self.places)

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(gross, net, base cash) over every asset."""
        risky = [r for a, r in self.assets.items() if not self.is_base_cash(a)]
        cash = sum((r.holdings for a, r in self.assets.items() if self.is_base_cash(a)), ZERO)
        return (self._q(sum((r.gross for r in risky), ZERO)), self._q(sum((r.net for r in risky), ZERO)),
                self._q(cash))

    def by_asset(self) -> list[AssetExposure]:
        gross_total = sum((r.gross for a, r in self.assets.items() if not self.is_base_cash(a)), ZERO)
        rows = []
        for asset, r in sorted(self.assets.items(), key=lambda kv: (-kv[1].gross, kv[0])):
            share = None
            if not self.is_base_cash(asset) and gross_total > 0:
                share = float(r.gross / gross_total)
            rows.append(AssetExposure(asset=asset, currency=r.currency, cash=r.cash, holdings=self._q(r.holdings),
                                      open_buy=self._q(r.open_buy), open_sell=self._q(r.open_sell),
                                      gross=self._q(r.gross), net=self._q(r.net), share=share))
        return rows

    def by_currency(self) -> list[CurrencyExposure]:
        sums: dict[str, _Row] = {}
        for r in self.assets.values():
            s = sums.setdefault(r.currency, _Row(r.currency, False))
            s.holdings += r.holdings
            s.open_buy += r.open_buy
            s.open_sell += r.open_sell
        return [CurrencyExposure(currency=c, holdings=self._q(s.holdings), open_buy=self._q(s.open_buy),
                                 open_sell=self._q(s.open_sell), gross=self._q(s.gross), net=self._q(s.net))
                for c, s in sorted(sums.items(), key=lambda kv: (-kv[1].gross, kv[0]))]


def of_user(session: Session, user_id: uuid.UUID) -> ExposureView:
    """The exposure of one user in their base currency."""
    val = pv.value(session, user_id)
    pricer = Pricer(session, val.base)
    book = Book(val.base, val.base_places)
    for h in val.holdings:
        if h.value is None:
            book.unvalued.append(Unvalued(symbol=h.symbol, source=h.source, quantity=h.quantity,
                                          reason=h.reason or "no price"))
            continue
        priced = Priced(h.price, h.symbol if h.cash else (h.currency or val.base), h.cash, None)
        book.row(h.symbol, priced).holdings += h.value
    for _, base_asset, quote, side, count, notional, quantity in fast.execute(
            session, _ORDERS.format(who="AND o.user_id = %(u)s"), {"u": user_id}).fetchall():
        book.add_order(pricer, base_asset, quote, side, count, notional, quantity)
    gross, net, cash = book.totals()
    return ExposureView(user_id=user_id, base=val.base, total_value=val.total, gross_exposure=gross,
                        net_exposure=net, base_cash=cash, open_orders=book.open_orders, by_asset=book.by_asset(),
                        by_currency=book.by_currency(), unvalued=book.unvalued, definitions=DEFINITIONS)


_PLATFORM_HOLDINGS = """
SELECT owner_id, asset, sum(balance) FROM ledger_accounts
WHERE owner_id IS NOT NULL AND purpose IN ('available', 'held') GROUP BY owner_id, asset HAVING sum(balance) <> 0
"""


def of_platform(session: Session, *, top: int) -> PlatformExposureView:
    """Every user's holdings and open orders, in USD, per asset and currency; the `top` users by gross."""
    base = pv.DEFAULT_BASE
    places = pv.asset_kinds(session).get(base, ("fiat", 2))[1]
    pricer = Pricer(session, base)
    platform = Book(base, places)
    users: dict[uuid.UUID, Book] = defaultdict(lambda: Book(base, places))
    unvalued: dict[tuple[str, str], Unvalued] = {}

    def hold(user: uuid.UUID, symbol: str, source: str, quantity: Decimal, currency: str | None) -> None:
        priced = pricer(symbol, currency)
        if priced.price is None:
            old = unvalued.get((symbol, source))
            unvalued[(symbol, source)] = Unvalued(symbol=symbol, source=source, reason=priced.reason or "no price",
                                                  quantity=quantity + (old.quantity if old else ZERO))
            users[user]  # noqa: B018 - the user still counts as one with holdings
            return
        for book in (platform, users[user]):
            book.row(symbol, priced).holdings += quantity * priced.price

    for user, asset, quantity in fast.execute(session, _PLATFORM_HOLDINGS).fetchall():
        hold(user, asset, "platform", quantity, None)
    for user, symbol, quantity, currency in fast.execute(
            session, "SELECT user_id, symbol, quantity, currency FROM external_holdings").fetchall():
        hold(user, symbol, "external", quantity, currency)
    for user, base_asset, quote, side, count, notional, quantity in fast.execute(
            session, _ORDERS.format(who="")).fetchall():
        for book in (platform, users[user]):
            book.add_order(pricer, base_asset, quote, side, count, notional, quantity)
    for row in platform.unvalued:  # open orders that could not be valued, added up per instrument and side
        old = unvalued.get((row.symbol, row.source))
        unvalued[(row.symbol, row.source)] = row if old is None else Unvalued(
            symbol=row.symbol, source=row.source, quantity=old.quantity + row.quantity, reason=row.reason)
    gross, net, cash = platform.totals()

    ranked = sorted(((b.totals(), u, b) for u, b in users.items()), key=lambda t: (-t[0][0], str(t[1])))[:top]
    emails = dict(fast.execute(session, "SELECT id, email FROM users WHERE id = ANY(%(ids)s)",
                               {"ids": [u for _, u, _ in ranked]}).fetchall())
    top_users = []
    for (u_gross, u_net, _), user, book in ranked:
        risky = [a for a in book.by_asset() if a.share is not None]
        largest = risky[0] if risky else None
        top_users.append(UserExposure(user_id=user, email=emails.get(user, ""), gross=u_gross, net=u_net,
                                      largest_asset=largest.asset if largest else None,
                                      largest_share=largest.share if largest else None))
    return PlatformExposureView(base=base, users=len(users), gross_exposure=gross, net_exposure=net, base_cash=cash,
                                open_orders=platform.open_orders, by_asset=platform.by_asset(),
                                by_currency=platform.by_currency(), top_users=top_users,
                                unvalued=sorted(unvalued.values(), key=lambda x: (x.symbol, x.source)),
                                definitions=DEFINITIONS)

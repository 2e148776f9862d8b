"""What traders read from the exchange: pairs and rules, the book, market data, their trades,
positions, account, statistics, the order types on offer, and their risk against the limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.actor import Actor
from du_core.admin import settings as platform
from du_core.db import fast
from du_core.money import exact
from du_core.operations import operation
from du_core.trading import book, exchange, fees, service
from du_core.trading.exchange import Instrument
from du_core.trading.positions import ZERO
from du_core.trading.schemas import (
    AccountBalance, AccountView, Algorithm, AlgorithmsView, BookRequest, Exposure, FeeTier, InstrumentView, Level,
    LimitUse, MarketDataView, OptionalSymbol, OrderBookView, PeriodStats, PositionView, RiskAssessmentView,
    RulesView, StatisticsQuery, StatisticsView, SymbolRequest, TradePage, TradeQuery, TradeView,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

WARN_AT = Decimal("0.8")  # share of a limit from which it shows as "warn"


def _instruments(session: Session) -> list[Instrument]:
    symbols = [r[0] for r in fast.execute(session, "SELECT symbol FROM instruments ORDER BY symbol").fetchall()]
    return [exchange.instrument(session, s, lock=False) for s in symbols]


def instrument_view(inst: Instrument) -> InstrumentView:
    pp, qp = inst.price_places, inst.quantity_places
    return InstrumentView(
        symbol=inst.symbol, base=inst.base, quote=inst.quote, status=inst.status, tick_size=exact(inst.tick, pp),
        lot_size=exact(inst.lot, qp), min_quantity=exact(inst.min_quantity, qp),
        max_quantity=exact(inst.max_quantity, qp), min_notional=exact(inst.min_notional, inst.quote_places),
        price_band=inst.band.normalize(), last_price=None if inst.last_price is None else exact(inst.last_price, pp))


@operation("trading.pairs")
def pairs(session: Session, actor: Actor, _: None = None) -> list[InstrumentView]:
    """Every instrument of the exchange with its status and last price."""
    return [instrument_view(i) for i in _instruments(session)]


@operation("trading.rules")
def rules(session: Session, actor: Actor, req: OptionalSymbol) -> RulesView:
    """The trading rules: each instrument's (or one's), the fee schedule and the platform's limits.

    Raises:
        NotFound: no such instrument.
    """
    settings = platform.current(session)
    insts = [exchange.instrument(session, req.symbol, lock=False)] if req.symbol else _instruments(session)
    return RulesView(
        trading_enabled=settings["trading_enabled"], instruments=[instrument_view(i) for i in insts],
        fee_tiers=[FeeTier(min_volume_usd=t.min_volume_usd, maker_fee_rate=t.maker, taker_fee_rate=t.taker)
                   for t in fees.schedule(settings)],
        fee_volume_days=fees.VOLUME_DAYS, max_order_notional=settings["max_order_notional"],
        max_open_orders=settings["max_open_orders"], order_types=["market", "limit", "stop", "stop_limit"],
        time_in_force=["gtc", "ioc", "fok"], self_trade_prevention=["cancel_newest", "cancel_oldest", "cancel_both"])


def _levels(levels: list[tuple[Decimal, Decimal, int]]) -> list[Level]:
    return [Level(price=p, quantity=q, orders=n) for p, q, n in levels]


@operation("trading.orderbook")
def orderbook(session: Session, actor: Actor, req: BookRequest) -> OrderBookView:
    """The book of an instrument aggregated by price, best first, `depth` levels a side.

    Raises:
        NotFound: no such instrument.
    """
    snap = book.snapshot(session, req.symbol, req.depth)
    bid = snap.bids[0][0] if snap.bids else None
    ask = snap.asks[0][0] if snap.asks else None
    spread = mid = None
    if bid is not None and ask is not None:
        spread = ask - bid
        mid = (ask + bid) / 2
    return OrderBookView(symbol=snap.symbol, seq=snap.seq, bids=_levels(snap.bids), asks=_levels(snap.asks),
                         spread=spread, mid=mid)


@operation("trading.market_data")
def market_data(session: Session, actor: Actor, req: SymbolRequest) -> MarketDataView:
    """Last price, best bid and ask, and the last 24 hours of an instrument (from its candles).

    Raises:
        NotFound: no such instrument.
    """
    from du_core.market import service as market

    inst = exchange.instrument(session, req.symbol, lock=False)
    t = market.ticker_of(session, market.lookup(session, inst.symbol), datetime.now(timezone.utc))
    bid, ask = t.best_bid, t.best_ask
    return MarketDataView(
        symbol=inst.symbol, status=inst.status, last=t.last_price, bid=bid, ask=ask,
        spread=None if bid is None or ask is None else ask - bid, open_24h=t.open_24h, change_24h=t.change_24h,
        change_24h_percent=t.change_percent_24h, high_24h=t.high_24h, low_24h=t.low_24h,
        volume_24h=t.volume_24h if t.volume_24h is not None else exact(ZERO, inst.quantity_places),
        quote_volume_24h=exact(t.quote_volume_24h or ZERO, inst.quote_places),
        trades_24h=t.trades_24h or 0, as_of=t.as_of)


_MY_TRADES = """
SELECT t.id, t.symbol, CASE WHEN t.buyer_id = %(u)s THEN 'buy' ELSE 'sell' END AS side, t.taker_side,
    t.price, t.quantity, t.quote_quantity, CASE WHEN t.buyer_id = %(u)s THEN t.buyer_fee ELSE t.seller_fee END,
    CASE WHEN t.buyer_id = %(u)s THEN t.buyer_pnl ELSE t.seller_pnl END,
    CASE WHEN t.buyer_id = %(u)s THEN t.buy_order_id ELSE t.sell_order_id END, t.created_at
FROM trades t WHERE (t.buyer_id = %(u)s OR t.seller_id = %(u)s) {symbol}
"""


@operation("trading.trades")
def trades(session: Session, actor: Actor, req: TradeQuery) -> TradePage:
    """The caller's fills, newest first, with fee and realised P&L."""
    symbol = "AND t.symbol = %(s)s" if req.symbol else ""
    params = {"u": actor.user_id, "s": req.symbol, "limit": req.limit, "offset": req.offset}
    sql = _MY_TRADES.format(symbol=symbol)
    total = fast.execute(session, f"SELECT count(*) FROM ({sql}) x", params).fetchone()[0]
    cache: dict[str, Instrument] = {}
    items = []
    for (trade_id, sym, side, taker_side, price, quantity, quote, fee, pnl, order_id, at) in fast.execute(
            session, sql + " ORDER BY t.id DESC LIMIT %(limit)s OFFSET %(offset)s", params).fetchall():
        inst = cache.get(sym) or cache.setdefault(sym, exchange.instrument(session, sym, lock=False))
        qp = inst.quote_places
        items.append(TradeView(
            id=trade_id, symbol=sym, side=side, liquidity="taker" if side == taker_side else "maker",
            price=exact(price, inst.price_places), quantity=exact(quantity, inst.quantity_places),
            quote_quantity=exact(quote, qp), fee=exact(fee, qp), fee_asset=inst.quote,
            realised_pnl=None if pnl is None else exact(pnl, qp), order_id=order_id, at=at))
    return TradePage(items=items, page=req.page, limit=req.limit, total=total)


def _positions(session: Session, user_id: Any, symbol: str | None = None) -> list[PositionView]:
    rows = fast.execute(session, "SELECT p.symbol, p.quantity, p.average_cost, p.realised_pnl, p.fees, p.volume,"
                        " (SELECT count(*) FROM orders o WHERE o.user_id = p.user_id AND o.symbol = p.symbol"
                        "  AND o.status IN ('pending_trigger', 'open', 'partially_filled'))"
                        " FROM positions p WHERE p.user_id = %(u)s" + (" AND p.symbol = %(s)s" if symbol else "")
                        + " ORDER BY p.symbol", {"u": user_id, "s": symbol}).fetchall()
    out = []
    for sym, quantity, cost, realised, paid, volume, open_count in rows:
        inst = exchange.instrument(session, sym, lock=False)
        qp, pp = inst.quote_places, inst.price_places
        value = unrealised = None
        if inst.last_price is not None:
            value = exact(quantity * inst.last_price, qp)
            unrealised = exact(quantity * (inst.last_price - cost), qp)
        out.append(PositionView(
            symbol=sym, base=inst.base, quote=inst.quote, quantity=exact(quantity, inst.quantity_places),
            average_cost=exact(cost, max(pp, qp)), last_price=None if inst.last_price is None else exact(
                inst.last_price, pp), market_value=value, unrealised_pnl=unrealised, realised_pnl=exact(realised, qp),
            fees=exact(paid, qp), volume=exact(volume, qp), open_orders=open_count))
    return out


@operation("trading.position")
def position(session: Session, actor: Actor, req: SymbolRequest) -> PositionView:
    """The caller's position in one instrument (zero when they never traded it).

    Raises:
        NotFound: no such instrument.
    """
    found = _positions(session, actor.user_id, req.symbol)
    if found:
        return found[0]
    inst = exchange.instrument(session, req.symbol, lock=False)
    qp = inst.quote_places
    return PositionView(symbol=inst.symbol, base=inst.base, quote=inst.quote,
                        quantity=exact(ZERO, inst.quantity_places), average_cost=exact(ZERO, qp),
                        last_price=None if inst.last_price is None else exact(inst.last_price, inst.price_places),
                        market_value=None, unrealised_pnl=None, realised_pnl=exact(ZERO, qp),
                        fees=exact(ZERO, qp), volume=exact(ZERO, qp), open_orders=0)


@operation("trading.account")
def account(session: Session, actor: Actor, _: None = None) -> AccountView:
    """The caller's trading account: whether they may trade, fee tier, balances, positions, open orders."""
    from du_core.ledger import book as ledger

    settings = platform.current(session)
    maker, taker, volume = fees.rates_for(session, actor.user_id, settings)  # type: ignore[arg-type]
    reason = None
    if actor.role.rank < actor.role.standard.rank:
        reason = f"your role ({actor.role.value}) may not trade: standard or higher is needed"
    elif actor.kyc_level < service.MIN_TRADING_KYC:
        reason = f"trading needs KYC level {service.MIN_TRADING_KYC}"
    elif not settings["trading_enabled"]:
        reason = "trading is disabled on the platform"
    balances = []
    for code, parts in ledger.balances(session, actor.user_id).items():  # type: ignore[arg-type]
        places = ledger.asset(session, code).precision
        balances.append(AccountBalance(asset=code, available=exact(parts["available"], places),
                                       held=exact(parts["held"], places),
                                       total=exact(parts["available"] + parts["held"], places)))
    return AccountView(user_id=actor.user_id, can_trade=reason is None, reason=reason, kyc_level=actor.kyc_level,
                       role=actor.role.value, maker_fee_rate=maker, taker_fee_rate=taker,
                       volume_30d_usd=exact(volume, 2), open_orders=service.open_orders(session, actor.user_id),
                       max_open_orders=settings["max_open_orders"], balances=balances,
                       positions=_positions(session, actor.user_id))


_STATS = """
SELECT {key}, count(*), sum(quote_quantity), sum(fee), coalesce(sum(pnl), 0), count(pnl),
    count(*) FILTER (WHERE pnl > 0)
FROM (
    SELECT t.symbol, i.quote, t.quote_quantity,
        CASE WHEN t.buyer_id = %(u)s THEN t.buyer_fee ELSE t.seller_fee END AS fee,
        CASE WHEN t.buyer_id = %(u)s THEN t.buyer_pnl ELSE t.seller_pnl END AS pnl
    FROM trades t JOIN instruments i ON i.symbol = t.symbol
    WHERE (t.buyer_id = %(u)s OR t.seller_id = %(u)s) AND t.created_at >= %(since)s
) x GROUP BY {key} ORDER BY {key}
"""
_UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}


@operation("trading.statistics")
def statistics(session: Session, actor: Actor, req: StatisticsQuery) -> StatisticsView:
    """Volume, fees, realised P&L and win rate (winning closing fills / closing fills) over a period."""
    since = None
    if req.period != "all":
        since = datetime.now(timezone.utc) - timedelta(days=int(req.period[:-1]) * _UNITS[req.period[-1]])
    params = {"u": actor.user_id, "since": since or datetime(1970, 1, 1, tzinfo=timezone.utc)}
    quote_places = dict(fast.execute(session, "SELECT code, precision FROM assets").fetchall())

    def stats(quote: str, row: tuple[Any, ...]) -> PeriodStats:
        count, volume, paid, pnl, closing, wins = row
        qp = quote_places[quote]
        return PeriodStats(quote=quote, trades=count, volume=exact(volume, qp), fees=exact(paid, qp),
                           realised_pnl=exact(pnl, qp), net_pnl=exact(pnl - paid, qp), closing_trades=closing,
                           winning_trades=wins, win_rate=None if not closing else exact(Decimal(wins) / closing, 4))

    by_quote = [stats(r[0], r[1:]) for r in fast.execute(session, _STATS.format(key="quote"), params).fetchall()]
    symbol_quotes = dict(fast.execute(session, "SELECT symbol, quote FROM instruments").fetchall())
    by_symbol = {r[0]: stats(symbol_quotes[r[0]], r[1:])
                 for r in fast.execute(session, _STATS.format(key="symbol"), params).fetchall()}
    return StatisticsView(period=req.period, since=since, by_quote=by_quote, by_symbol=by_symbol)


ALGORITHMS = AlgorithmsView(
    order_types=[
        Algorithm(name="market", kind="order_type", options=["--quantity"],
                  description="trades now against the best prices, never more than the instrument's price band "
                              "away from the best price at arrival; never rests"),
        Algorithm(name="limit", kind="order_type", options=["--quantity", "--price", "--tif", "--post-only"],
                  description="trades at the limit price or better; what is left rests in the book (GTC)"),
        Algorithm(name="stop", kind="order_type", options=["--quantity", "--stop-price"],
                  description="becomes a market order when a trade reaches the stop price (buy: at or above, "
                              "sell: at or below)"),
        Algorithm(name="stop_limit", kind="order_type", options=["--quantity", "--stop-price", "--price"],
                  description="becomes a limit order when a trade reaches the stop price"),
    ],
    time_in_force=[
        Algorithm(name="gtc", kind="time_in_force", options=[], description="good till cancelled: rests until "
                  "filled or cancelled"),
        Algorithm(name="ioc", kind="time_in_force", options=[], description="immediate or cancel: trades what it "
                  "can now, cancels the rest"),
        Algorithm(name="fok", kind="time_in_force", options=[], description="fill or kill: trades the whole "
                  "quantity now or nothing at all"),
    ],
    execution_options=[
        Algorithm(name="post_only", kind="execution", options=["--post-only"], description="a limit order that "
                  "would trade on arrival is cancelled instead, so it only ever adds liquidity (maker fee)"),
        Algorithm(name="cancel_newest", kind="self_trade_prevention", options=["--stp cancel_newest"],
                  description="default: an order that would trade with its owner's resting order stops there"),
        Algorithm(name="cancel_oldest", kind="self_trade_prevention", options=["--stp cancel_oldest"],
                  description="the owner's resting order is cancelled and matching goes on"),
        Algorithm(name="cancel_both", kind="self_trade_prevention", options=["--stp cancel_both"],
                  description="both the resting and the incoming order are cancelled"),
        Algorithm(name="client_order_id", kind="execution", options=["--client-order-id ID"],
                  description="your own unique id: placing it again returns the original order"),
        Algorithm(name="close_position", kind="execution", options=["du trading close-position SYMBOL"],
                  description="a market order that flattens your position"),
    ],
)


@operation("trading.algorithms")
def algorithms(session: Session, actor: Actor, _: None = None) -> AlgorithmsView:
    """The order types, times in force and execution options the exchange offers."""
    return ALGORITHMS


def _status(ratio: Decimal | None) -> str:
    if ratio is None:
        return "ok"
    return "breach" if ratio >= 1 else ("warn" if ratio >= WARN_AT else "ok")


@operation("trading.risk_assessment")
def risk_assessment(session: Session, actor: Actor, _: None = None) -> RiskAssessmentView:
    """The caller's open exposure per instrument against the platform's limits."""
    settings = platform.current(session)
    rows = fast.execute(session, """
        SELECT symbol, count(*),
            coalesce(sum(coalesce(price, stop_price) * (quantity - filled)) FILTER (WHERE side = 'buy'), 0),
            coalesce(sum(quantity - filled) FILTER (WHERE side = 'sell'), 0),
            coalesce(max(coalesce(price, stop_price) * quantity), 0)
        FROM orders WHERE user_id = %(u)s AND status IN ('pending_trigger', 'open', 'partially_filled')
        GROUP BY symbol""", {"u": actor.user_id}).fetchall()
    open_by = {r[0]: r[1:] for r in rows}
    positions = {p.symbol: p for p in _positions(session, actor.user_id)}
    exposures = []
    largest = ZERO
    for symbol in sorted(set(open_by) | set(positions)):
        inst = exchange.instrument(session, symbol, lock=False)
        count, buys, sells, biggest = open_by.get(symbol, (0, ZERO, ZERO, ZERO))
        pos = positions.get(symbol)
        largest = max(largest, biggest)
        exposures.append(Exposure(
            symbol=symbol, quote=inst.quote, open_orders=count, open_buy_notional=exact(buys, inst.quote_places),
            open_sell_quantity=exact(sells, inst.quantity_places),
            position_quantity=pos.quantity if pos else exact(ZERO, inst.quantity_places),
            position_value=pos.market_value if pos else None,
            largest_order_notional=exact(biggest, inst.quote_places)))
    count = sum(e.open_orders for e in exposures)
    limits = []
    for name, limit, used in (("max_open_orders", Decimal(settings["max_open_orders"]), Decimal(count)),
                              ("max_order_notional", settings["max_order_notional"], largest)):
        ratio = None if not limit else (used / limit).quantize(Decimal("0.0001"))
        limits.append(LimitUse(name=name, limit=limit, used=used, ratio=ratio, status=_status(ratio)))  # type: ignore[arg-type]
    held = {}
    from du_core.ledger import book as ledger

    for code, parts in ledger.balances(session, actor.user_id).items():  # type: ignore[arg-type]
        if parts["held"]:
            held[code] = exact(parts["held"], ledger.asset(session, code).precision)
    worst = "breach" if any(x.status == "breach" for x in limits) else (
        "warn" if any(x.status == "warn" for x in limits) else "ok")
    return RiskAssessmentView(user_id=actor.user_id, exposures=exposures, limits=limits, held_by_asset=held,
                              status=worst)  # type: ignore[arg-type]

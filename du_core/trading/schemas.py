"""Requests to the exchange and the views it returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from du_core.validation import AmountText, Exact, IdempotencyKey, Paging, Request, View


def clean_symbol(value: str) -> str:
    """An instrument symbol as users type it: `btc-usd` and `BTC/USD` both mean BTC-USD."""
    symbol = value.strip().upper().replace("/", "-")
    if not (3 <= len(symbol) <= 21) or not symbol.isascii() or symbol.count("-") != 1:
        raise ValueError("a symbol is two asset codes joined by a dash, like BTC-USD")
    return symbol


Symbol = Annotated[str, AfterValidator(clean_symbol)]
Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
Tif = Literal["gtc", "ioc", "fok"]
Stp = Literal["cancel_newest", "cancel_oldest", "cancel_both"]
OrderStatus = Literal["pending_trigger", "open", "partially_filled", "filled", "cancelled", "live", "all"]


class PlaceOrder(Request):
    symbol: Symbol
    side: Side
    type: OrderType = "limit"
    quantity: AmountText
    price: AmountText | None = None
    stop_price: AmountText | None = None
    tif: Tif = "gtc"
    post_only: bool = False
    stp: Stp = "cancel_newest"
    client_order_id: Annotated[IdempotencyKey, Field(max_length=64)] | None = None
    idempotency_key: IdempotencyKey | None = None


class OrderRef(Request):
    order_id: uuid.UUID


class ModifyOrder(Request):
    order_id: uuid.UUID
    quantity: AmountText | None = None
    price: AmountText | None = None


class OrderQuery(Paging):
    status: OrderStatus = "all"
    symbol: Symbol | None = None


class SymbolRequest(Request):
    symbol: Symbol


class OptionalSymbol(Request):
    symbol: Symbol | None = None


class BookRequest(Request):
    symbol: Symbol
    depth: int = Field(default=20, ge=1, le=1000)


class TradeQuery(Paging):
    symbol: Symbol | None = None


class ClosePosition(Request):
    symbol: Symbol
    idempotency_key: IdempotencyKey | None = None


class StatisticsQuery(Request):
    period: Annotated[str, Field(pattern=r"^([1-9][0-9]{0,3}[dwmy]|all)$")] = "30d"


class FillView(View):
    trade_id: int
    price: Exact
    quantity: Exact
    fee: Exact
    liquidity: Literal["maker", "taker"]
    at: datetime


class OrderView(View):
    id: uuid.UUID
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    tif: str
    price: Exact | None
    stop_price: Exact | None
    quantity: Exact
    filled: Exact
    remaining: Exact
    average_price: Exact | None
    status: str
    cancel_reason: str | None
    post_only: bool
    stp: str
    held: Exact
    held_asset: str
    fees: Exact
    created_at: datetime
    updated_at: datetime
    fills: list[FillView] = []


class OrderPage(View):
    items: list[OrderView]
    page: int
    limit: int
    total: int


class InstrumentView(View):
    symbol: str
    base: str
    quote: str
    status: str
    tick_size: Exact
    lot_size: Exact
    min_quantity: Exact
    max_quantity: Exact
    min_notional: Exact
    price_band: Exact
    last_price: Exact | None


class FeeTier(View):
    min_volume_usd: Exact
    maker_fee_rate: Exact
    taker_fee_rate: Exact


class RulesView(View):
    trading_enabled: bool
    instruments: list[InstrumentView]
    fee_tiers: list[FeeTier]
    fee_volume_days: int
    max_order_notional: Exact
    max_open_orders: int
    order_types: list[str]
    time_in_force: list[str]
    self_trade_prevention: list[str]


class Level(View):
    price: Exact
    quantity: Exact
    orders: int


class OrderBookView(View):
    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]
    spread: Exact | None
    mid: Exact | None


class MarketDataView(View):
    symbol: str
    status: str
    last: Exact | None
    bid: Exact | None
    ask: Exact | None
    spread: Exact | None
    open_24h: Exact | None
    change_24h: Exact | None
    change_24h_percent: Exact | None
    high_24h: Exact | None
    low_24h: Exact | None
    volume_24h: Exact
    quote_volume_24h: Exact
    trades_24h: int
    as_of: datetime


class TradeView(View):
    id: int
    symbol: str
    side: str
    liquidity: Literal["maker", "taker"]
    price: Exact
    quantity: Exact
    quote_quantity: Exact
    fee: Exact
    fee_asset: str
    realised_pnl: Exact | None
    order_id: uuid.UUID
    at: datetime


class TradePage(View):
    items: list[TradeView]
    page: int
    limit: int
    total: int


class PositionView(View):
    symbol: str
    base: str
    quote: str
    quantity: Exact
    average_cost: Exact
    last_price: Exact | None
    market_value: Exact | None
    unrealised_pnl: Exact | None
    realised_pnl: Exact
    fees: Exact
    volume: Exact
    open_orders: int


class AccountBalance(View):
    asset: str
    available: Exact
    held: Exact
    total: Exact


class AccountView(View):
    user_id: uuid.UUID
    can_trade: bool
    reason: str | None
    kyc_level: int
    role: str
    maker_fee_rate: Exact
    taker_fee_rate: Exact
    volume_30d_usd: Exact
    open_orders: int
    max_open_orders: int
    balances: list[AccountBalance]
    positions: list[PositionView]


class PeriodStats(View):
    quote: str
    trades: int
    volume: Exact
    fees: Exact
    realised_pnl: Exact
    net_pnl: Exact
    closing_trades: int
    winning_trades: int
    win_rate: Exact | None


class StatisticsView(View):
    period: str
    since: datetime | None
    by_quote: list[PeriodStats]
    by_symbol: dict[str, PeriodStats]


class Algorithm(View):
    name: str
    kind: str
    description: str
    options: list[str]


class AlgorithmsView(View):
    order_types: list[Algorithm]
    time_in_force: list[Algorithm]
    execution_options: list[Algorithm]


class Exposure(View):
    symbol: str
    quote: str
    open_orders: int
    open_buy_notional: Exact
    open_sell_quantity: Exact
    position_quantity: Exact
    position_value: Exact | None
    largest_order_notional: Exact


class LimitUse(View):
    name: str
    limit: Exact
    used: Exact
    ratio: Exact | None
    status: Literal["ok", "warn", "breach"]


class RiskAssessmentView(View):
    user_id: uuid.UUID
    exposures: list[Exposure]
    limits: list[LimitUse]
    held_by_asset: dict[str, Exact]
    status: Literal["ok", "warn", "breach"]


class AddInstrument(Request):
    symbol: Symbol
    tick_size: AmountText
    lot_size: AmountText
    min_quantity: AmountText
    max_quantity: AmountText
    min_notional: AmountText
    price_band: AmountText = "0.05"


class UpdateInstrument(Request):
    symbol: Symbol
    status: Literal["trading", "halted"] | None = None
    tick_size: AmountText | None = None
    lot_size: AmountText | None = None
    min_quantity: AmountText | None = None
    max_quantity: AmountText | None = None
    min_notional: AmountText | None = None
    price_band: AmountText | None = None

"""The matching rules: price, time priority, time in force, post-only, self-trade, band and budget."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from du_core.trading.matching import (
    REASONS,
    SIDES,
    STP_MODES,
    TIFS,
    Fill,
    Maker,
    Outcome,
    Taker,
    crosses,
    match,
)

D = Decimal
ME, OTHER, THIRD = "me", "other", "third"


def asks(*levels: tuple[str | int, str | int] | tuple[str | int, str | int, str]) -> list[Maker]:
    """Makers best first from (price, quantity[, user]) in priority order; seq and id follow the order."""
    return [Maker(order_id=i, user_id=level[2] if len(level) > 2 else OTHER, price=D(level[0]),
                  remaining=D(level[1]), seq=i) for i, level in enumerate(levels, start=1)]


bids = asks  # the same builder: the caller passes them best first either way


def taken(outcome: Outcome) -> list[tuple[int, Decimal, Decimal]]:
    return [(f.maker.order_id, f.price, f.quantity) for f in outcome.fills]


def check_invariants(taker: Taker, outcome: Outcome) -> None:
    with localcontext(Context(prec=200)):  # checked exactly, not to 28 digits
        assert outcome.filled + outcome.remaining == taker.quantity
        assert sum((f.quantity for f in outcome.fills), D(0)) == outcome.filled
    assert D(0) <= outcome.filled <= taker.quantity
    for fill in outcome.fills:
        assert D(0) < fill.quantity <= fill.maker.remaining
        assert fill.price == fill.maker.price
    for value in (outcome.filled, outcome.remaining, *(f.quantity for f in outcome.fills)):
        assert type(value) is Decimal
    assert outcome.reason is None or outcome.reason in REASONS
    assert not (outcome.rests and outcome.reason is not None)
    if outcome.rests:
        assert taker.limit is not None and outcome.remaining > 0
    if outcome.remaining == 0:
        assert outcome.reason is None and not outcome.rests


def run(taker: Taker, makers: list[Maker]) -> Outcome:
    before = [(m.order_id, m.user_id, m.price, m.remaining, m.seq) for m in makers]
    outcome = match(taker, makers)
    assert [(m.order_id, m.user_id, m.price, m.remaining, m.seq) for m in makers] == before
    check_invariants(taker, outcome)
    return outcome


# --- price and time priority ------------------------------------------------------------------

def test_limit_buy_takes_asks_up_to_its_limit_at_the_makers_prices_and_rests_the_rest():
    outcome = run(Taker(ME, "buy", D(10), limit=D(101)), asks((100, 3), (101, 4), (102, 5)))
    assert taken(outcome) == [(1, D(100), D(3)), (2, D(101), D(4))]
    assert (outcome.filled, outcome.remaining, outcome.rests, outcome.reason) == (D(7), D(3), True, None)


def test_limit_sell_takes_bids_down_to_its_limit():
    outcome = run(Taker(ME, "sell", D(10), limit=D(99)), bids((100, 3), (99, 4), (98, 5)))
    assert taken(outcome) == [(1, D(100), D(3)), (2, D(99), D(4))]
    assert outcome.rests and outcome.remaining == D(3)


def test_equal_prices_fill_in_the_given_time_order():
    makers = asks((100, 2), (100, 2), (100, 2))
    outcome = run(Taker(ME, "buy", D(3), limit=D(100)), makers)
    assert taken(outcome) == [(1, D(100), D(2)), (2, D(100), D(1))]


def test_fill_quantity_is_the_smaller_of_both_remainders():
    outcome = run(Taker(ME, "buy", D("2.5"), limit=D(100)), asks((100, 10)))
    assert taken(outcome) == [(1, D(100), D("2.5"))]
    assert outcome.remaining == 0 and not outcome.rests and outcome.reason is None


def test_limit_that_crosses_nothing_rests_whole():
    outcome = run(Taker(ME, "buy", D(5), limit=D(99)), asks((100, 3)))
    assert (outcome.fills, outcome.filled, outcome.rests, outcome.reason) == ([], D(0), True, None)


def test_makers_are_read_lazily_and_only_as_far_as_needed():
    pulled = []

    def makers():
        for maker in asks((100, 1), (101, 1), (102, 1), (103, 1)):
            pulled.append(maker.order_id)
            yield maker

    outcome = match(Taker(ME, "buy", D(2), limit=D(110)), makers())
    assert outcome.filled == D(2)
    assert pulled == [1, 2]


def test_no_float_reaches_the_outcome():
    outcome = run(Taker(ME, "buy", D("7.5"), budget=D("500.5"), fee_rate=D("0.001"), lot=D("0.5")),
                  asks((100, 3), (101, 4)))
    assert all(type(v) is Decimal for f in outcome.fills for v in (f.price, f.quantity))


# --- empty book -------------------------------------------------------------------------------

@pytest.mark.parametrize("limit,tif,post_only,rests,reason", [
    (D(100), "gtc", False, True, None),
    (D(100), "ioc", False, False, "ioc"),
    (D(100), "fok", False, False, "fok"),
    (D(100), "gtc", True, True, None),
    (None, "gtc", False, False, "no_liquidity"),
    (None, "ioc", False, False, "no_liquidity"),
    (None, "fok", False, False, "fok"),
    (None, "gtc", True, False, "post_only"),
])
def test_empty_book_fills_nothing_and_rests_only_a_gtc_limit(limit, tif, post_only, rests, reason):
    for side in SIDES:
        taker = Taker(ME, side, D(5), limit=limit, tif=tif, post_only=post_only)
        outcome = run(taker, [])
        assert (outcome.fills, outcome.cancelled_makers, outcome.filled, outcome.remaining) == ([], [], 0, D(5))
        assert (outcome.rests, outcome.reason) == (rests, reason)


# --- time in force ----------------------------------------------------------------------------

def test_ioc_fills_what_it_can_and_cancels_the_rest():
    outcome = run(Taker(ME, "buy", D(10), limit=D(101), tif="ioc"), asks((100, 3), (101, 4), (102, 5)))
    assert outcome.filled == D(7)
    assert (outcome.rests, outcome.reason) == (False, "ioc")


def test_ioc_that_fills_completely_has_no_reason():
    outcome = run(Taker(ME, "buy", D(3), limit=D(101), tif="ioc"), asks((100, 3)))
    assert (outcome.filled, outcome.rests, outcome.reason) == (D(3), False, None)


def test_ioc_that_crosses_nothing_is_cancelled_as_ioc():
    outcome = run(Taker(ME, "sell", D(3), limit=D(101), tif="ioc"), bids((100, 3)))
    assert (outcome.fills, outcome.rests, outcome.reason) == ([], False, "ioc")


def test_fok_that_can_fill_completely_fills_completely():
    outcome = run(Taker(ME, "buy", D(7), limit=D(101), tif="fok"), asks((100, 3), (101, 4), (102, 5)))
    assert taken(outcome) == [(1, D(100), D(3)), (2, D(101), D(4))]
    assert (outcome.remaining, outcome.reason) == (D(0), None)


FOK_BLOCKERS = {
    "limit": (Taker(ME, "buy", D(8), limit=D(101), tif="fok"), asks((100, 3), (101, 4), (102, 5))),
    "liquidity": (Taker(ME, "buy", D(20), limit=D(110), tif="fok"), asks((100, 3), (101, 4))),
    "market liquidity": (Taker(ME, "buy", D(20), tif="fok"), asks((100, 3), (101, 4))),
    "band": (Taker(ME, "buy", D(8), tif="fok", band=D("0.01")), asks((100, 3), (101, 4), (102, 5))),
    "budget": (Taker(ME, "buy", D(7), limit=D(110), tif="fok", budget=D(600)), asks((100, 3), (101, 4))),
    "cancel_newest": (Taker(ME, "buy", D(7), limit=D(110), tif="fok"), asks((100, 3), (101, 4, ME), (101, 4))),
    "cancel_both": (Taker(ME, "buy", D(7), limit=D(110), tif="fok", stp="cancel_both"),
                    asks((100, 3), (101, 4, ME), (101, 4))),
    "cancel_oldest": (Taker(ME, "buy", D(7), limit=D(110), tif="fok", stp="cancel_oldest"),
                      asks((100, 3), (101, 4, ME), (101, 2))),
}


@pytest.mark.parametrize("blocker", FOK_BLOCKERS)
def test_fok_that_cannot_fill_completely_leaves_no_fill(blocker):
    taker, makers = FOK_BLOCKERS[blocker]
    outcome = run(taker, makers)
    assert (outcome.fills, outcome.cancelled_makers) == ([], [])
    assert (outcome.filled, outcome.remaining, outcome.rests, outcome.reason) == (D(0), taker.quantity, False, "fok")


def test_fok_that_fills_past_a_cancelled_own_order_keeps_that_cancel():
    makers = asks((100, 3), (101, 4, ME), (101, 4))
    outcome = run(Taker(ME, "buy", D(7), limit=D(110), tif="fok", stp="cancel_oldest"), makers)
    assert outcome.filled == D(7)
    assert outcome.cancelled_makers == [makers[1]]


# --- post-only --------------------------------------------------------------------------------

@pytest.mark.parametrize("side,limit", [("buy", D(100)), ("buy", D(105)), ("sell", D(100)), ("sell", D(95))])
def test_post_only_that_would_cross_is_refused_whole(side, limit):
    outcome = run(Taker(ME, side, D(5), limit=limit, post_only=True), asks((100, 3), (101, 4)))
    assert (outcome.fills, outcome.filled, outcome.rests, outcome.reason) == ([], D(0), False, "post_only")


def test_post_only_that_does_not_cross_rests():
    outcome = run(Taker(ME, "buy", D(5), limit=D(99), post_only=True), asks((100, 3)))
    assert (outcome.fills, outcome.rests, outcome.reason) == ([], True, None)


def test_post_only_market_order_is_refused_even_on_a_full_book():
    outcome = run(Taker(ME, "buy", D(1), post_only=True), asks((100, 3)))
    assert (outcome.fills, outcome.rests, outcome.reason) == ([], False, "post_only")


def test_post_only_is_refused_even_when_the_first_maker_is_its_own():
    outcome = run(Taker(ME, "buy", D(1), limit=D(100), post_only=True), asks((100, 3, ME)))
    assert (outcome.cancelled_makers, outcome.reason) == ([], "post_only")


# --- self-trade prevention --------------------------------------------------------------------

def test_cancel_newest_stops_the_taker_at_its_own_order_and_keeps_earlier_fills():
    makers = asks((100, 3), (100, 4, ME), (100, 5))
    outcome = run(Taker(ME, "buy", D(10), limit=D(100)), makers)
    assert taken(outcome) == [(1, D(100), D(3))]
    assert outcome.cancelled_makers == []
    assert (outcome.remaining, outcome.rests, outcome.reason) == (D(7), False, "self_trade")


def test_cancel_oldest_cancels_own_orders_and_keeps_matching():
    makers = asks((100, 3), (100, 4, ME), (101, 1, ME), (101, 5))
    outcome = run(Taker(ME, "buy", D(10), limit=D(101), stp="cancel_oldest"), makers)
    assert taken(outcome) == [(1, D(100), D(3)), (4, D(101), D(5))]
    assert outcome.cancelled_makers == [makers[1], makers[2]]
    assert (outcome.remaining, outcome.rests, outcome.reason) == (D(2), True, None)


def test_cancel_both_cancels_the_own_order_and_stops_the_taker():
    makers = asks((100, 3), (100, 4, ME), (100, 5))
    outcome = run(Taker(ME, "buy", D(10), limit=D(100), stp="cancel_both"), makers)
    assert taken(outcome) == [(1, D(100), D(3))]
    assert outcome.cancelled_makers == [makers[1]]
    assert (outcome.remaining, outcome.rests, outcome.reason) == (D(7), False, "self_trade")


@pytest.mark.parametrize("stp", STP_MODES)
def test_own_order_beyond_the_limit_does_not_trigger_self_trade_prevention(stp):
    outcome = run(Taker(ME, "buy", D(10), limit=D(100), stp=stp), asks((100, 3), (101, 4, ME)))
    assert outcome.cancelled_makers == []
    assert (outcome.filled, outcome.rests, outcome.reason) == (D(3), True, None)


@pytest.mark.parametrize("stp,cancelled", [("cancel_newest", 0), ("cancel_oldest", 1), ("cancel_both", 1)])
def test_ioc_reason_names_self_trade_only_when_prevention_stopped_it(stp, cancelled):
    outcome = run(Taker(ME, "sell", D(5), limit=D(90), tif="ioc", stp=stp), bids((100, 2), (99, 9, ME)))
    assert len(outcome.cancelled_makers) == cancelled
    assert outcome.reason == ("ioc" if stp == "cancel_oldest" else "self_trade")


# --- market orders and the price band ---------------------------------------------------------

def test_market_order_without_band_sweeps_the_book_and_never_rests():
    outcome = run(Taker(ME, "buy", D(100)), asks((100, 3), (150, 4), (900, 5)))
    assert outcome.filled == D(12)
    assert (outcome.rests, outcome.reason) == (False, "no_liquidity")


def test_market_order_fully_filled_has_no_reason():
    outcome = run(Taker(ME, "sell", D(5)), bids((100, 3), (50, 4)))
    assert taken(outcome) == [(1, D(100), D(3)), (2, D(50), D(2))]
    assert (outcome.remaining, outcome.rests, outcome.reason) == (D(0), False, None)


@pytest.mark.parametrize("side,makers,filled", [
    ("buy", asks((100, 1), (105, 1), ("105.01", 1)), D(2)),  # 105 is exactly 5 % above: allowed
    ("sell", bids((100, 1), (95, 1), ("94.99", 1)), D(2)),   # 95 is exactly 5 % below: allowed
])
def test_market_order_stops_at_the_band_around_the_first_makers_price(side, makers, filled):
    outcome = run(Taker(ME, side, D(10), band=D("0.05")), makers)
    assert outcome.filled == filled
    assert (outcome.rests, outcome.reason) == (False, "price_band")


def test_band_is_ignored_for_limit_orders():
    outcome = run(Taker(ME, "buy", D(10), limit=D(200), band=D("0.01")), asks((100, 1), (150, 1)))
    assert outcome.filled == D(2) and outcome.rests


def test_market_ioc_keeps_the_precise_reason():
    outcome = run(Taker(ME, "buy", D(10), tif="ioc", band=D("0.01")), asks((100, 1), (102, 1)))
    assert outcome.reason == "price_band"


# --- budget -----------------------------------------------------------------------------------

def test_budget_that_covers_everything_changes_nothing():
    outcome = run(Taker(ME, "buy", D(5), limit=D(110), budget=D(1000)), asks((100, 2), (101, 3)))
    assert (outcome.filled, outcome.reason) == (D(5), None)


def test_budget_spent_exactly_fills_exactly():
    outcome = run(Taker(ME, "buy", D(5), budget=D(503)), asks((100, 2), (101, 3)))
    assert (outcome.filled, outcome.reason) == (D(5), None)


@pytest.mark.parametrize("budget,lot,filled", [
    # 2 at 100 spend 200; the rest of the budget buys 250 / 101 = 2.475... at 101, rounded down.
    (D(450), D("0.5"), D(4)),
    (D(450), D(1), D(4)),
    (D(450), D("0.01"), D("4.47")),
    (D(250), D("0.5"), D(2)),  # 50 left: not even half a unit at 101, so no second fill
])
def test_budget_limited_fill_is_rounded_down_to_the_lot(budget, lot, filled):
    outcome = run(Taker(ME, "buy", D(5), budget=budget, lot=lot), asks((100, 2), (101, 3)))
    assert outcome.filled == filled
    assert all(f.quantity % lot == 0 for f in outcome.fills)
    assert (outcome.rests, outcome.reason) == (False, "budget")
    assert sum(f.price * f.quantity for f in outcome.fills) <= budget


@pytest.mark.parametrize("quantity,budget,makers", [
    (5, D(300), asks((100, 2), (300, 3))),
    (5, D(100), asks((300, 3))),
    (10**19, D(10**19), asks((7, 10**19))),
    (10**18, D(1), asks(("0.000000000000000003", 10**18))),
])
def test_budget_limited_fill_without_lot_is_the_exact_quotient_rounded_down(quantity, budget, makers):
    outcome = run(Taker(ME, "buy", D(quantity), budget=budget), makers)
    spent = sum(Fraction(f.price) * Fraction(f.quantity) for f in outcome.fills[:-1])
    last = outcome.fills[-1]
    exact = (Fraction(budget) - spent) / Fraction(last.price)
    assert Fraction(last.quantity) <= exact
    assert exact - Fraction(last.quantity) <= exact / 10**27  # rounded down at 28 digits, not more
    assert outcome.reason == "budget"


def test_arithmetic_is_exact_in_any_caller_context():
    quantity = D("12345678901234567890.123456789012345678")  # NUMERIC(38,18) at full width
    with localcontext(Context(prec=6)):
        outcome = match(Taker(ME, "sell", quantity, limit=D(1)),
                        bids((2, "0.000000000000000001"), (1, "1")))
    assert outcome.remaining == D("12345678901234567889.123456789012345677")
    assert outcome.filled == D("1.000000000000000001")


def test_budget_counts_the_fee():
    outcome = run(Taker(ME, "buy", D(10), budget=D(1000), fee_rate=D("0.01"), lot=D(1)), asks((100, 10)))
    assert outcome.filled == D(9)  # 10 would cost 1010
    assert outcome.reason == "budget"


def test_budget_with_nothing_affordable_fills_nothing_and_does_not_rest():
    outcome = run(Taker(ME, "buy", D(5), limit=D(100), budget=D(50), lot=D(1)), asks((100, 2)))
    assert (outcome.fills, outcome.rests, outcome.reason) == ([], False, "budget")


def test_budget_is_ignored_for_sells():
    outcome = run(Taker(ME, "sell", D(5), budget=D(1)), bids((100, 5)))
    assert (outcome.filled, outcome.reason) == (D(5), None)


def test_budget_arithmetic_does_not_round_in_a_coarse_context():
    with localcontext() as ctx:
        ctx.prec = 6
        outcome = match(Taker(ME, "buy", D(5), budget=D("100.0001")), asks(("100.0001", 1), ("100.0001", 1)))
    assert outcome.filled == D(1) and outcome.reason == "budget"


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value", [("side", "long"), ("tif", "day"), ("stp", "none"), ("quantity", D(0)),
                                         ("quantity", D(-1))])
def test_unknown_or_impossible_taker_fields_are_refused(field, value):
    fields = {"user_id": ME, "side": "buy", "quantity": D(1), "limit": D(100)}
    fields[field] = value
    with pytest.raises(ValueError):
        match(Taker(**fields), asks((100, 1)))


@pytest.mark.parametrize("side,limit,price,expected", [
    ("buy", D(100), D(99), True), ("buy", D(100), D(100), True), ("buy", D(100), D(101), False),
    ("sell", D(100), D(101), True), ("sell", D(100), D(100), True), ("sell", D(100), D(99), False),
    ("buy", None, D(10**6), True), ("sell", None, D("0.01"), True),
])
def test_crosses_answers_whether_a_limit_may_trade_at_a_price(side, limit, price, expected):
    assert crosses(side, limit, price) is expected


def test_crosses_refuses_an_unknown_side():
    with pytest.raises(ValueError):
        crosses("hold", D(1), D(1))


# --- properties against a plain reference -----------------------------------------------------

def reference(taker: Taker, makers: list[Maker]) -> tuple[list[tuple[int, Decimal]], list[int], bool, str | None]:
    """The rules written for clarity, budget in exact fractions: (fills, cancelled ids, rests, reason)."""
    buy = taker.side == "buy"
    if taker.post_only and (taker.limit is None or (makers and crosses(taker.side, taker.limit, makers[0].price))):
        return [], [], False, "post_only"
    if taker.limit is None and taker.band is not None and makers:
        first = Fraction(makers[0].price)
        bound = first * (1 + Fraction(taker.band)) if buy else first * (1 - Fraction(taker.band))
    fills, cancelled, left, spent, reason = [], [], Fraction(taker.quantity), Fraction(0), None
    for maker in makers:
        if left == 0:
            break
        if taker.limit is not None:
            if not crosses(taker.side, taker.limit, maker.price):
                break
        elif taker.band is not None and (maker.price > bound if buy else maker.price < bound):
            reason = "price_band"
            break
        if maker.user_id == taker.user_id:
            if taker.stp == "cancel_oldest":
                cancelled.append(maker.order_id)
                continue
            if taker.stp == "cancel_both":
                cancelled.append(maker.order_id)
            reason = "self_trade"
            break
        size = min(left, Fraction(maker.remaining))
        if buy and taker.budget is not None:
            unit = Fraction(maker.price) * (1 + Fraction(taker.fee_rate))
            affordable = (Fraction(taker.budget) - spent) / unit
            if size > affordable:
                lots = int(affordable / Fraction(taker.lot))  # affordable >= 0 here: floor
                size = lots * Fraction(taker.lot)
                if size > 0:
                    fills.append((maker.order_id, size))
                    left -= size
                reason = "budget"
                break
            spent += size * unit
        fills.append((maker.order_id, size))
        left -= size
    else:
        if taker.limit is None and left > 0:
            reason = "no_liquidity"
    if left == 0:
        return fills, cancelled, False, None
    if taker.tif == "fok":
        return [], [], False, "fok"
    if reason is None:
        if taker.tif == "gtc":
            return fills, cancelled, True, None
        reason = "ioc"
    return fills, cancelled, False, reason


# Narrow grids so that takers cross often; sampled_from spreads values evenly where integers()
# would favour the ends of the range.
PRICES = st.sampled_from([D(p) for p in range(95, 106)])
QUANTITIES = st.sampled_from([D(halves) / 2 for halves in range(1, 41)])
USERS = st.sampled_from([ME, OTHER, THIRD, OTHER])
maker_specs = st.lists(st.tuples(PRICES, QUANTITIES, USERS), min_size=1, max_size=10)
takers = st.builds(
    Taker,
    user_id=st.just(ME),
    side=st.sampled_from(SIDES),
    quantity=QUANTITIES.map(lambda q: q * 3),
    limit=st.sampled_from([None] * 2 + [D(p) for p in range(95, 106)]),
    tif=st.sampled_from(TIFS),
    post_only=st.sampled_from([False] * 7 + [True]),
    stp=st.sampled_from(STP_MODES),
    band=st.sampled_from([None, D("0.02"), D("0.1")]),
    budget=st.sampled_from([None, None] + [D(b) for b in range(0, 6001, 50)]),
    fee_rate=st.sampled_from([D(0), D("0.001"), D("0.01")]),
    lot=st.sampled_from([D("0.5"), D(1), D("0.01")]),
)


def book_for(side: str, specs: list[tuple[Decimal, Decimal, str]]) -> list[Maker]:
    """The opposite side in priority order: asks ascending for a buyer, bids descending for a seller."""
    ordered = sorted(enumerate(specs), key=lambda item: (item[1][0] if side == "buy" else -item[1][0], item[0]))
    return [Maker(order_id=i, user_id=user, price=price, remaining=quantity, seq=i)
            for i, (price, quantity, user) in ordered]


@settings(max_examples=400, deadline=None)
@given(takers, maker_specs)
def test_match_agrees_with_the_plain_reference(taker, specs):
    makers = book_for(taker.side, specs)
    outcome = run(taker, makers)
    fills, cancelled, rests, reason = reference(taker, makers)
    assert [(f.maker.order_id, Fraction(f.quantity)) for f in outcome.fills] == fills
    assert [m.order_id for m in outcome.cancelled_makers] == cancelled
    assert (outcome.rests, outcome.reason) == (rests, reason)


@settings(max_examples=300, deadline=None)
@given(takers, maker_specs)
def test_fills_follow_price_time_priority_and_respect_limit_and_budget(taker, specs):
    makers = book_for(taker.side, specs)
    outcome = run(taker, makers)
    position = {m.order_id: i for i, m in enumerate(makers)}
    order = [position[f.maker.order_id] for f in outcome.fills]
    assert order == sorted(order) and len(set(order)) == len(order)
    for fill in outcome.fills:
        assert crosses(taker.side, taker.limit, fill.price)
    if taker.side == "buy" and taker.budget is not None:
        assert sum(f.price * f.quantity * (1 + taker.fee_rate) for f in outcome.fills) <= taker.budget
    if taker.tif == "fok":
        assert outcome.filled in (D(0), taker.quantity)
        if outcome.filled == 0:
            assert outcome.fills == [] and outcome.cancelled_makers == []
    if taker.post_only:
        assert outcome.fills == []
    if taker.limit is None or taker.tif != "gtc":
        assert not outcome.rests


def test_fill_and_outcome_are_the_documented_dataclasses():
    outcome = match(Taker(ME, "buy", D(1), limit=D(100)), asks((100, 1)))
    assert isinstance(outcome.fills[0], Fill)
    with pytest.raises(AttributeError):
        outcome.fills[0].quantity = D(2)  # frozen: a fill is a fact

"""The in-memory order book: it applies `match` outcomes faithfully and keeps price-time priority."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from du_core.trading.local_book import LocalBook
from du_core.trading.matching import SIDES, STP_MODES, Maker, Taker, match

D = Decimal


def book_with(*orders: tuple) -> LocalBook:
    """A book holding (order_id, user_id, side, quantity, limit) orders, added in that order."""
    book = LocalBook()
    for order_id, user_id, side, quantity, limit in orders:
        outcome = book.add(order_id, user_id, side, D(quantity), D(limit))
        assert outcome.rests and not outcome.fills
    return book


def resting(book: LocalBook, side: str) -> list[tuple[int, Decimal, Decimal]]:
    return [(o.order_id, o.price, o.remaining) for o in book.resting(side)]


# --- adding and matching ----------------------------------------------------------------------

def test_an_empty_book_has_no_best_prices_and_no_depth():
    book = LocalBook()
    assert (book.best_bid(), book.best_ask(), book.depth(5), len(book)) == (None, None, ([], []), 0)


def test_resting_orders_set_best_prices_and_aggregate_into_levels_best_first():
    book = book_with((1, "a", "buy", 2, 99), (2, "b", "buy", 3, 99), (3, "c", "buy", 1, 98),
                     (4, "d", "sell", 5, 101), (5, "e", "sell", "1.5", 102), (6, "f", "sell", 1, 101))
    assert (book.best_bid(), book.best_ask(), len(book)) == (D(99), D(101), 6)
    assert book.depth(5) == ([(D(99), D(5), 2), (D(98), D(1), 1)], [(D(101), D(6), 2), (D(102), D("1.5"), 1)])
    assert book.depth(1) == ([(D(99), D(5), 2)], [(D(101), D(6), 2)])
    assert book.depth(0) == ([], [])


def test_a_crossing_order_trades_in_price_time_order_and_removes_filled_makers():
    book = book_with((1, "a", "sell", 2, 101), (2, "b", "sell", 2, 100), (3, "c", "sell", 2, 100))
    outcome = book.add(4, "d", "buy", D(5), D(101))
    assert [(f.maker.order_id, f.price, f.quantity) for f in outcome.fills] == [
        (2, D(100), D(2)), (3, D(100), D(2)), (1, D(101), D(1))]
    assert resting(book, "sell") == [(1, D(101), D(1))]
    assert (len(book), book.best_ask(), book.best_bid()) == (1, D(101), None)


@pytest.mark.parametrize("side", SIDES)
def test_an_order_priced_at_the_best_opposite_price_trades_through_that_whole_level(side):
    other = "sell" if side == "buy" else "buy"
    book = book_with((1, "a", other, 1, 100), (2, "b", other, 1, 100), (3, "c", other, 1, 100))
    outcome = book.add(4, "d", side, D(3), D(100))
    assert [f.maker.order_id for f in outcome.fills] == [1, 2, 3]
    assert (len(book), book.best_bid(), book.best_ask()) == (0, None, None)


def test_the_unfilled_part_of_a_gtc_limit_rests_at_its_limit():
    book = book_with((1, "a", "sell", 2, 100))
    book.add(2, "b", "buy", D(5), D(100))
    assert resting(book, "buy") == [(2, D(100), D(3))]
    assert book.depth(1) == ([(D(100), D(3), 1)], [])


@pytest.mark.parametrize("tif,limit", [("ioc", D(100)), ("fok", D(100)), ("gtc", None), ("ioc", None)])
def test_ioc_fok_and_market_orders_never_rest(tif, limit):
    book = book_with((1, "a", "sell", 2, 100))
    outcome = book.add(2, "b", "buy", D(5), limit, tif=tif)
    assert not outcome.rests and 2 not in book


def test_a_failed_fok_leaves_the_book_untouched():
    book = book_with((1, "a", "sell", 2, 100), (2, "me", "sell", 2, 100), (3, "c", "sell", 9, 101))
    outcome = book.add(4, "me", "buy", D(5), D(100), tif="fok", stp="cancel_oldest")
    assert (outcome.fills, outcome.cancelled_makers, outcome.reason) == ([], [], "fok")
    assert resting(book, "sell") == [(1, D(100), D(2)), (2, D(100), D(2)), (3, D(101), D(9))]


def test_a_post_only_order_that_would_cross_is_dropped():
    book = book_with((1, "a", "sell", 2, 100))
    outcome = book.add(2, "b", "buy", D(1), D(100), post_only=True)
    assert (outcome.reason, 2 in book, resting(book, "sell")) == ("post_only", False, [(1, D(100), D(2))])


def test_self_trade_cancel_oldest_removes_the_own_resting_order():
    book = book_with((1, "me", "sell", 2, 100), (2, "a", "sell", 2, 100))
    outcome = book.add(3, "me", "buy", D(2), D(100), stp="cancel_oldest")
    assert [m.order_id for m in outcome.cancelled_makers] == [1]
    assert len(book) == 0 and book.best_ask() is None


def test_self_trade_cancel_newest_leaves_the_own_resting_order():
    book = book_with((1, "me", "sell", 2, 100))
    outcome = book.add(2, "me", "buy", D(2), D(100))
    assert outcome.reason == "self_trade"
    assert resting(book, "sell") == [(1, D(100), D(2))] and 2 not in book


def test_market_order_band_is_applied_by_the_book():
    book = book_with((1, "a", "sell", 1, 100), (2, "b", "sell", 1, 110))
    outcome = book.add(3, "c", "buy", D(5), band=D("0.05"))
    assert (outcome.filled, outcome.reason) == (D(1), "price_band")
    assert resting(book, "sell") == [(2, D(110), D(1))]


def test_budget_reaches_match_through_the_book():
    book = book_with((1, "a", "sell", 5, 100))
    outcome = book.add(2, "b", "buy", D(5), budget=D(250), lot=D(1))
    assert (outcome.filled, outcome.reason) == (D(2), "budget")
    assert resting(book, "sell") == [(1, D(100), D(3))]


@pytest.mark.parametrize("kwargs", [{"limit": D(0)}, {"limit": D(-1)}, {"quantity": D(0)}, {"side": "hold"},
                                    {"tif": "day"}])
def test_impossible_orders_are_refused_and_change_nothing(kwargs):
    book = book_with((1, "a", "sell", 1, 100))
    order = {"order_id": 2, "user_id": "b", "side": "buy", "quantity": D(1), "limit": D(100)} | kwargs
    with pytest.raises(ValueError):
        book.add(**order)
    assert resting(book, "sell") == [(1, D(100), D(1))] and len(book) == 1


def test_an_order_id_already_resting_is_refused():
    book = book_with((1, "a", "sell", 1, 100))
    with pytest.raises(ValueError):
        book.add(1, "a", "sell", D(1), D(105))


# --- cancel -----------------------------------------------------------------------------------

def test_cancel_removes_a_resting_order_and_reports_whether_there_was_one():
    book = book_with((1, "a", "buy", 1, 99), (2, "b", "buy", 1, 99), (3, "c", "buy", 1, 98))
    assert book.cancel(1) is True
    assert book.cancel(1) is False
    assert book.cancel(42) is False
    assert resting(book, "buy") == [(2, D(99), D(1)), (3, D(98), D(1))]
    assert book.cancel(2) and book.cancel(3)
    assert (len(book), book.best_bid(), book.depth(3)) == (0, None, ([], []))


def test_orders_cancelled_in_the_middle_of_a_level_are_skipped_and_compacted():
    book = book_with(*[(i, "a", "sell", 1, 100) for i in range(100)])
    for i in range(1, 99):
        book.cancel(i)
    assert resting(book, "sell") == [(0, D(100), D(1)), (99, D(100), D(1))]
    assert book.depth(1) == ([], [(D(100), D(2), 2)])
    outcome = book.add(100, "b", "buy", D(2), D(100))
    assert [f.maker.order_id for f in outcome.fills] == [0, 99]
    assert len(book) == 0


def test_a_filled_order_can_no_longer_be_cancelled():
    book = book_with((1, "a", "sell", 1, 100))
    book.add(2, "b", "buy", D(1), D(100))
    assert book.cancel(1) is False


# --- modify -----------------------------------------------------------------------------------

def test_reducing_quantity_keeps_time_priority():
    book = book_with((1, "a", "sell", 5, 100), (2, "b", "sell", 5, 100))
    assert book.modify(1, quantity=D(2)) is None
    outcome = book.add(3, "c", "buy", D(3), D(100))
    assert [(f.maker.order_id, f.quantity) for f in outcome.fills] == [(1, D(2)), (2, D(1))]


def test_increasing_quantity_loses_time_priority():
    book = book_with((1, "a", "sell", 5, 100), (2, "b", "sell", 5, 100))
    book.modify(1, quantity=D(6))
    assert resting(book, "sell") == [(2, D(100), D(5)), (1, D(100), D(6))]
    assert book.get(1).seq > book.get(2).seq


def test_changing_price_loses_time_priority_even_when_it_comes_back():
    book = book_with((1, "a", "buy", 1, 99), (2, "b", "buy", 1, 99))
    book.modify(1, price=D(98))
    book.modify(1, price=D(99))
    assert [o for o, _, _ in resting(book, "buy")] == [2, 1]


def test_a_modify_that_changes_nothing_keeps_priority():
    book = book_with((1, "a", "buy", 1, 99), (2, "b", "buy", 1, 99))
    seq = book.get(1).seq
    assert book.modify(1, quantity=D(1), price=D(99)) is None
    assert book.get(1).seq == seq


def test_a_repriced_order_that_crosses_trades_as_a_taker():
    book = book_with((1, "a", "buy", 5, 99), (2, "b", "sell", 2, 101))
    outcome = book.modify(1, price=D(101))
    assert [(f.maker.order_id, f.price, f.quantity) for f in outcome.fills] == [(2, D(101), D(2))]
    assert resting(book, "buy") == [(1, D(101), D(3))]
    assert book.best_ask() is None


def test_a_repriced_post_only_order_that_would_cross_is_cancelled():
    book = book_with((2, "b", "sell", 2, 101))
    book.add(1, "a", "buy", D(5), D(99), post_only=True)
    outcome = book.modify(1, price=D(101))
    assert (outcome.fills, outcome.reason, 1 in book) == ([], "post_only", False)


def test_a_repriced_order_that_does_not_cross_returns_an_outcome_that_rests():
    book = book_with((1, "a", "buy", 5, 99))
    outcome = book.modify(1, quantity=D(4), price=D(98))
    assert (outcome.fills, outcome.rests) == ([], True)
    assert book.depth(2) == ([(D(98), D(4), 1)], [])


def test_modifying_an_unknown_order_raises_key_error():
    with pytest.raises(KeyError):
        LocalBook().modify(1, quantity=D(1))


@pytest.mark.parametrize("kwargs", [{"quantity": D(0)}, {"price": D(0)}, {"price": D(-5)}])
def test_modifying_to_an_impossible_value_is_refused(kwargs):
    book = book_with((1, "a", "buy", 5, 99))
    with pytest.raises(ValueError):
        book.modify(1, **kwargs)
    assert resting(book, "buy") == [(1, D(99), D(5))]


# --- properties over random sequences of operations -------------------------------------------

# A narrow grid, so that orders cross often; sampled_from spreads values evenly where integers()
# would favour the ends of the range.
PRICES = st.sampled_from([D(p) for p in range(95, 106)])
LIMITS = st.sampled_from([None] + [D(p) for p in range(95, 106)])  # 1 in 12 is a market order
QUANTITIES = st.sampled_from([D(halves) / 2 for halves in range(2, 41)])
adds = st.tuples(
    st.just("add"),
    st.sampled_from(range(4)),  # user
    st.sampled_from(SIDES),
    QUANTITIES,
    LIMITS,
    st.sampled_from(["gtc"] * 6 + ["ioc", "fok"]),
    st.sampled_from([False] * 5 + [True]),  # post-only
    st.sampled_from(STP_MODES),
    st.sampled_from([None, D("0.05")]),
)
ORDER_IDS = st.sampled_from(range(60))
cancels = st.tuples(st.just("cancel"), ORDER_IDS)
modifies = st.tuples(st.just("modify"), ORDER_IDS, st.none() | QUANTITIES, st.none() | PRICES)
operations = st.lists(st.one_of(adds, adds, adds, cancels, modifies), min_size=10, max_size=60)


class Ledger:
    """What every order was asked for and what became of it, to check that quantity is conserved."""

    def __init__(self) -> None:
        self.ordered: dict[int, Decimal] = {}
        self.filled: dict[int, Decimal] = {}
        self.cancelled: dict[int, Decimal] = {}

    def open(self, order_id: int, quantity: Decimal) -> None:
        self.ordered[order_id] = quantity
        self.filled[order_id] = D(0)
        self.cancelled[order_id] = D(0)

    def check(self, book: LocalBook) -> None:
        for order_id, ordered in self.ordered.items():
            order = book.get(order_id)
            left = order.remaining if order is not None else D(0)
            assert self.filled[order_id] <= ordered
            assert left + self.filled[order_id] + self.cancelled[order_id] == ordered, order_id


def snapshot(book: LocalBook) -> dict[str, list[tuple]]:
    return {side: [(o.order_id, o.user_id, o.price, o.remaining, o.seq) for o in book.resting(side)]
            for side in SIDES}


def check_book(book: LocalBook) -> None:
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is None or ask is None or bid < ask, "crossed book"
    for side in SIDES:
        orders = list(book.resting(side))
        keys = [(-o.price if side == "buy" else o.price, o.seq) for o in orders]
        assert keys == sorted(keys), "resting orders out of priority"
        assert all(o.remaining > 0 for o in orders)
    seqs = [o.seq for side in SIDES for o in book.resting(side)]
    assert len(seqs) == len(set(seqs)) == len(book)
    bids, asks = book.depth(1000)
    assert [p for p, _, _ in bids] == sorted({o.price for o in book.resting("buy")}, reverse=True)
    assert [p for p, _, _ in asks] == sorted({o.price for o in book.resting("sell")})
    assert sum(q for _, q, _ in bids + asks) == sum(o.remaining for s in SIDES for o in book.resting(s))
    assert sum(n for _, _, n in bids + asks) == len(book)
    assert (bid, ask) == (bids[0][0] if bids else None, asks[0][0] if asks else None)


def check_taker(side: str, outcome, before: dict[str, list[tuple]], book: LocalBook) -> None:
    """Price-time priority: the outcome took makers best first, and no better one was left behind."""
    opposite = "sell" if side == "buy" else "buy"

    def rank(price: Decimal, seq: int) -> tuple:
        return (price if opposite == "sell" else -price, seq)

    ranks = [rank(f.price, f.maker.seq) for f in outcome.fills]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    # Every maker that traded or was cancelled came before every maker still resting from before.
    touched = [rank(f.price, f.maker.seq) for f in outcome.fills] + \
        [rank(m.price, m.seq) for m in outcome.cancelled_makers]
    partly = {f.maker.order_id for f in outcome.fills}
    untouched = [rank(price, seq) for order_id, _, price, _, seq in before[opposite] if order_id not in partly
                 and book.get(order_id) is not None]
    if touched and untouched:
        assert max(touched) < min(untouched)
    # The makers the outcome names are exactly the ones that were there.
    known = {order_id: remaining for order_id, _, _, remaining, _ in before[opposite]}
    for fill in outcome.fills:
        assert fill.quantity <= known[fill.maker.order_id]


@settings(max_examples=250, deadline=None)
@given(operations)
def test_random_sequences_keep_every_promise_of_the_book(ops):
    book = LocalBook()
    ledger = Ledger()
    next_id = 0
    for op in ops:
        before = snapshot(book)
        if op[0] == "add":
            _, user, side, quantity, limit, tif, post_only, stp, band = op
            order_id = next_id
            next_id += 1
            ledger.open(order_id, quantity)
            outcome = book.add(order_id, user, side, quantity, limit, tif, post_only, stp, band)
            taker_side = side
            assert outcome.filled <= quantity and outcome.filled + outcome.remaining == quantity
            if tif == "fok":
                assert outcome.filled in (D(0), quantity)
                if outcome.filled == 0:
                    assert snapshot(book) == before
            if tif != "gtc" or limit is None:
                assert order_id not in book
            if post_only:
                assert outcome.fills == []
        elif op[0] == "cancel":
            order_id = op[1]
            order = book.get(order_id)
            left = order.remaining if order is not None else D(0)
            assert book.cancel(order_id) is (order is not None)
            if order is not None:
                ledger.cancelled[order_id] += left
            check_book(book)
            ledger.check(book)
            continue
        else:
            _, order_id, quantity, price = op
            order = book.get(order_id)
            if order is None:
                continue
            old_quantity, old_price, old_seq = order.remaining, order.price, order.seq
            taker_side = "buy" if order_id in {o[0] for o in before["buy"]} else "sell"
            if quantity is not None:
                ledger.ordered[order_id] += quantity - old_quantity
            outcome = book.modify(order_id, quantity=quantity, price=price)
            if price is None or price == old_price:
                assert outcome is None
                new = book.get(order_id)
                if quantity is None or quantity <= old_quantity:
                    assert new.seq == old_seq, "a reduction lost time priority"
                else:
                    assert new.seq > old_seq
                check_book(book)
                ledger.check(book)
                continue
            assert outcome is not None
            if book.get(order_id) is not None:
                assert book.get(order_id).seq > old_seq
        # What happened to the taker and to the makers it met.
        ledger.filled[order_id] += outcome.filled
        if not outcome.rests:
            ledger.cancelled[order_id] += outcome.remaining
        else:
            assert book.get(order_id).remaining == outcome.remaining
        for fill in outcome.fills:
            ledger.filled[fill.maker.order_id] += fill.quantity
        for maker in outcome.cancelled_makers:
            ledger.cancelled[maker.order_id] += maker.remaining
            assert maker.order_id not in book
        check_taker(taker_side, outcome, before, book)
        check_book(book)
        ledger.check(book)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_the_book_matches_like_match_on_a_plainly_sorted_copy(ops):
    """The book's queues, levels and lazy deletion change nothing: a list sorted on every add agrees."""
    book = LocalBook()
    plain: list[Maker] = []  # the resting orders, in no particular order
    sides: dict[int, str] = {}
    seq = 0
    for order_id, op in enumerate(ops):
        if op[0] == "cancel":
            assert book.cancel(op[1]) is any(m.order_id == op[1] for m in plain)
            plain = [m for m in plain if m.order_id != op[1]]
            continue
        if op[0] != "add":
            continue
        _, user, side, quantity, limit, tif, post_only, stp, band = op
        opposite = "sell" if side == "buy" else "buy"
        makers = sorted((m for m in plain if sides[m.order_id] == opposite),
                        key=lambda m: (m.price if side == "buy" else -m.price, m.seq))
        expected = match(Taker(user, side, quantity, limit, tif, post_only, stp, band), makers)
        got = book.add(order_id, user, side, quantity, limit, tif, post_only, stp, band)
        assert [(f.maker.order_id, f.quantity) for f in got.fills] == \
            [(f.maker.order_id, f.quantity) for f in expected.fills]
        assert (got.rests, got.reason, [m.order_id for m in got.cancelled_makers]) == \
            (expected.rests, expected.reason, [m.order_id for m in expected.cancelled_makers])
        for fill in expected.fills:
            fill.maker.remaining -= fill.quantity
        gone = {m.order_id for m in expected.cancelled_makers}
        plain = [m for m in plain if m.remaining > 0 and m.order_id not in gone]
        if expected.rests:
            seq += 1
            sides[order_id] = side
            plain.append(Maker(order_id, user, limit, expected.remaining, seq))
        assert sorted((m.order_id, m.remaining) for m in plain) == \
            sorted((o.order_id, o.remaining) for s in SIDES for o in book.resting(s))

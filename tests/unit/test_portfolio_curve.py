"""The returns of an equity curve: flows are not performance, TWR chains, MWR is the IRR, weights are exact."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from du_core.errors import InvalidInput
from du_core.portfolio.curve import contributions, daily_returns, money_weighted_return, time_weighted_return
from du_core.portfolio.rebalance import parse_weights

D = Decimal


def test_a_deposit_is_a_flow_at_the_end_of_its_day_not_a_return():
    values = [D("1000"), D("1010"), D("3030"), D("2999.70")]
    flows = [D("1000"), D("0"), D("2000"), D("0")]
    returns = daily_returns(values, flows, opening=D("0"))
    assert returns[0] is None  # nothing the day before: no return
    assert returns[1] == pytest.approx(0.01, rel=1e-15)
    assert returns[2] == pytest.approx((3030 - 2000) / 1010 - 1, rel=1e-15)  # 1030 / 1010 - 1
    assert returns[3] == pytest.approx(-0.01, rel=1e-15)
    assert time_weighted_return(returns) == pytest.approx(1.01 * (1030 / 1010) * 0.99 - 1, rel=1e-14)


def test_a_withdrawal_after_a_day_flat_gives_a_zero_return():
    assert daily_returns([D("600")], [D("-400")], opening=D("1000")) == [0.0]


def test_undefined_days_are_none_and_nothing_defined_gives_no_twr():
    assert daily_returns([D("5"), None, D("5")], [D("5"), D("0"), D("0")], opening=D("0")) == [None, None, None]
    assert daily_returns([D("5")], [D("0")], opening=None) == [None]
    assert time_weighted_return([None, None]) is None


@settings(max_examples=60, deadline=None)
@given(growth=st.lists(st.floats(min_value=-0.2, max_value=0.2), min_size=1, max_size=30),
       flows=st.lists(st.integers(min_value=-300, max_value=3000), min_size=30, max_size=30))
def test_the_twr_is_the_growth_of_the_market_whatever_the_flows(growth, flows):
    value = D(1000)
    values, flow_values = [], []
    for g, f in zip(growth, flows, strict=False):
        flow = max(D(f), -value * D("0.5"))  # never withdraw more than half
        value = value * (1 + D(repr(g))) + flow
        values.append(value)
        flow_values.append(flow)
    twr = time_weighted_return(daily_returns(values, flow_values, opening=D(1000)))
    assert twr == pytest.approx(math.prod(1 + g for g in growth) - 1, rel=1e-9, abs=1e-12)


def test_the_mwr_is_the_root_numpy_finds_for_the_same_flows():
    # 10000 in at t=1, 1000 out at t=4, 9140 left at t=5
    irr = money_weighted_return([(0.0, 0.0), (1.0, 10000.0), (4.0, -1000.0)], 5.0, 9140.0)
    roots = np.roots([-10000.0, 0.0, 0.0, 1000.0, 9140.0])  # -10000 x^4 + 1000 x + 9140
    x = next(r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0)
    assert irr.daily == pytest.approx(x - 1, rel=1e-9)
    assert irr.period == pytest.approx(x**4 - 1, rel=1e-9)
    assert irr.annualised == pytest.approx(x**365 - 1, rel=1e-9)


def test_one_deposit_has_the_same_mwr_over_the_period_as_its_twr():
    irr = money_weighted_return([(1.0, 500.0)], 31.0, 550.0)
    assert irr.period == pytest.approx(0.1, rel=1e-12)


def test_the_mwr_stays_finite_over_decades_of_days():
    irr = money_weighted_return([(0.0, 100.0)], 3650.0 * 3, 400.0)
    assert irr.annualised == pytest.approx(4 ** (365 / 10950) - 1, rel=1e-9)


@pytest.mark.parametrize("flows,final,reason", [
    ([], 100.0, "no money was put in"),
    ([(0.0, 100.0)], 0.0, "nothing was taken out"),
    ([(0.0, 100.0)], 1e300, "no internal rate of return"),
    ([(2.0, 100.0)], 90.0, "at least one day"),
])
def test_an_mwr_that_cannot_be_computed_says_why(flows, final, reason):
    irr = money_weighted_return(flows, 2.0, final)
    assert (irr.daily, irr.period, irr.annualised) == (None, None, None) and reason in irr.reason


def test_contributions_are_the_price_effect_on_the_previous_days_quantity():
    quantities = {"BTC": [D("0"), D("0.1"), D("0.1"), D("0.2")], "USD": [D("10"), D("5"), D("5"), D("1")]}
    prices = {"BTC": [D("100"), D("110"), None, D("120")], "USD": [D("1")] * 4}
    assert contributions(quantities, prices, 2) == {"BTC": D("0.00"), "USD": D("0.00")}  # the gap skips a day
    prices["BTC"][2] = D("90")
    assert contributions(quantities, prices, 2) == {"BTC": D("1.00"), "USD": D("0.00")}  # -2.00, +3.00


def test_weights_must_be_exact_and_sum_to_exactly_one():
    assert parse_weights({"BTC": "0.4", "ETH": "0.35", "USD": "0.25"}) == {
        "BTC": D("0.4"), "ETH": D("0.35"), "USD": D("0.25")}
    assert parse_weights({"BTC": "1"}) == {"BTC": D(1)}
    with pytest.raises(InvalidInput, match="sum to 0.99999, not 1"):
        parse_weights({"BTC": "0.33333", "ETH": "0.33333", "USD": "0.33333"})
    for bad in ("-0.5", "0.5e0", "1.5", ".5", "NaN", "0,5"):
        with pytest.raises(InvalidInput):
            parse_weights({"BTC": bad, "USD": "0.5"})

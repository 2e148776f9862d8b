"""The one amount parser: plain decimals within the asset's places, nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from du_core.errors import InvalidInput
from du_core.money import exact, parse_amount, quantize_down

BAD = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e3", "1E3", "1_000", "1,000", "1.000,50", "１００", "٣",
       "-5", "+5", "0", "0.00", "00.5", "007", ".5", "5.", " 5", "5 ", "5\n", "", "1.001", "1" * 21,
       "0x10", "1/2", "½", "5 USD"]


@pytest.mark.parametrize("text", BAD)
def test_bad_amounts_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_amount(text, 2)


@pytest.mark.parametrize("text,places,expected", [
    ("100", 2, Decimal("100")), ("0.01", 2, Decimal("0.01")), ("1250.5", 2, Decimal("1250.5")),
    ("5", 0, Decimal(5)), ("0.00000001", 8, Decimal("0.00000001")), ("9" * 20, 0, Decimal("9" * 20)),
])
def test_good_amounts_parse_exactly(text, places, expected):
    assert parse_amount(text, places) == expected


def test_decimal_places_follow_the_asset():
    with pytest.raises(InvalidInput, match="0 decimal places"):
        parse_amount("1.5", 0)
    assert parse_amount("1.123456789012345678", 18) == Decimal("1.123456789012345678")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9" * 20 + ".99"), places=2, allow_nan=False, allow_infinity=False))
def test_every_plain_two_place_amount_round_trips(value):
    text = f"{value:f}"
    assert parse_amount(text, 2) == value


@given(st.text(max_size=12))
def test_no_text_parses_to_something_non_positive_or_inexact(text):
    try:
        value = parse_amount(text, 6)
    except InvalidInput:
        return
    assert value > 0 and value.is_finite() and str(value) == text


def test_quantize_down_never_rounds_up():
    assert quantize_down(Decimal("1.999"), 2) == Decimal("1.99")
    assert str(exact(Decimal("100.000000000000000000"), 2)) == "100.00"

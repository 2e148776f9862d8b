"""Registration input: names, emails, phones, dates and countries."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from du_core.auth.schemas import Register
from du_core.errors import InvalidInput
from du_core.validation import clean_birth_date, clean_name, parse

GOOD = dict(email="hoa@example.com", phone="+84912345678", full_name="Trần Thị Hoa",
            password="a long Pass phrase 42", date_of_birth="1990-05-01", nationality="VN")


def test_vietnamese_name_is_stored_in_nfc():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn Ánh")
    assert parse(Register, **{**GOOD, "full_name": decomposed}).full_name == "Nguyễn Văn Ánh"


@pytest.mark.parametrize("name", ["Bob\x1b[31m", "Bob\u202eevil", "Bob\u200bSmith", "Bob\x00", "Bob\nSmith",
                                  "12345", "Bob<script>", ""])
def test_names_with_control_invisible_or_non_letter_characters_are_rejected(name):
    with pytest.raises(InvalidInput) as err:
        parse(Register, **{**GOOD, "full_name": name})
    assert err.value.details["errors"][0]["field"] == "full_name"


@pytest.mark.parametrize("field,value", [
    ("email", "not-an-email"), ("email", "a@b"), ("phone", "0912345678"), ("phone", "+84 12"),
    ("nationality", "XX"), ("nationality", "Vietnam"), ("date_of_birth", "2999-01-01"),
    ("date_of_birth", "1990-13-01"),
])
def test_malformed_fields_are_rejected_and_named(field, value):
    with pytest.raises(InvalidInput) as err:
        parse(Register, **{**GOOD, field: value})
    assert err.value.details["errors"][0]["field"] == field


def test_unknown_fields_are_refused_so_a_role_cannot_be_smuggled_in():
    with pytest.raises(InvalidInput):
        parse(Register, **GOOD, role="admin")


def test_errors_never_echo_the_password():
    with pytest.raises(InvalidInput) as err:
        parse(Register, **{**GOOD, "email": "bad", "password": "secret-value-123"})
    assert "secret-value-123" not in str(err.value.details) + err.value.message


def test_minors_are_refused():
    today = date(2026, 11, 28)
    with pytest.raises(ValueError):
        clean_birth_date(date(2010, 1, 1), today=today)
    assert clean_birth_date(date(2008, 11, 28), today=today) == date(2008, 11, 28)


@given(st.text(alphabet=st.characters(categories=["Cc", "Cf"]), min_size=1, max_size=3))
def test_any_control_or_format_character_in_a_name_is_refused(bad):
    with pytest.raises(ValueError):
        clean_name("Hoa" + bad + "Tran")

"""ID numbers are kept masked except the last characters; the full number is never stored."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shifts.visitors.idmask import IdMaskError, is_masked, mask, matches_masked
from tests.shifts.visitors.builders import person


@pytest.mark.parametrize(
    ("raw", "visible", "masked"),
    [
        pytest.param("AB1234567", 4, "•••••4567", id="passport number, last four shown"),
        pytest.param("ab 123-4567", 4, "•••••4567", id="spaces, hyphen and case ignored"),
        pytest.param("AB1234567", 2, "•••••••67", id="two visible characters"),
        pytest.param("AB1234567", 0, "•••••••••", id="nothing visible"),
        pytest.param("X1234567", 4, "••••4567", id="eight characters: half shown"),
        pytest.param("123456", 4, "•••456", id="short number: never more than half shown"),
        pytest.param("7", 4, "•", id="single character is fully hidden"),
    ],
)
def test_mask_keeps_only_the_last_characters(raw, visible, masked):
    assert mask(raw, visible=visible) == masked


def test_mask_defaults_to_four_visible_characters():
    assert mask("AB1234567") == "•••••4567"


@pytest.mark.parametrize(
    ("raw", "visible", "message"),
    [
        pytest.param("", 4, "must not be empty", id="empty"),
        pytest.param(" - ", 4, "must not be empty", id="only separators"),
        pytest.param("•••••4567", 4, "already contains the mask", id="already masked"),
        pytest.param("AB1234567", -1, "0 or more, got -1", id="negative visible count"),
    ],
)
def test_mask_refuses_what_it_cannot_mask(raw, visible, message):
    with pytest.raises(IdMaskError, match=message):
        mask(raw, visible=visible)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("•••••4567", True, id="masked passport"),
        pytest.param("•••", True, id="fully masked"),
        pytest.param("AB1234567", False, id="full number"),
        pytest.param("••1234567", False, id="more shown than hidden"),
        pytest.param("••••4•567", False, id="mask character in the visible part"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_masked(text, masked):
    assert is_masked(text) is masked


def test_authorised_person_refuses_a_full_id_number_without_repeating_it():
    with pytest.raises(IdMaskError) as caught:
        person(id_number_masked="AB1234567")

    assert "id_number_masked" in str(caught.value)
    assert "AB1234567" not in str(caught.value)


def test_authorised_person_keeps_the_masked_number():
    assert person(id_number_masked=mask("C01X00T47")).id_number_masked == "•••••0T47"


@pytest.mark.parametrize(
    ("presented", "match"),
    [
        pytest.param("AB1234567", True, id="the same document"),
        pytest.param("zz 999 4567", True, id="same ending and length, separators ignored"),
        pytest.param("AB1234568", False, id="different last digit"),
        pytest.param("B1234567", False, id="different length"),
        pytest.param("", False, id="nothing presented"),
    ],
)
def test_presented_document_is_compared_with_the_visible_ending(presented, match):
    assert matches_masked(mask("AB1234567"), presented) is match


_numbers = st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(number=_numbers, visible=st.integers(min_value=0, max_value=8))
def test_masked_number_hides_at_least_half_and_reveals_only_the_end(number, visible):
    masked = mask(number, visible=visible)
    shown = masked.lstrip("•")

    assert len(masked) == len(number)
    assert len(shown) <= min(visible, len(number) // 2)
    assert number.endswith(shown)
    assert is_masked(masked)
    assert matches_masked(masked, number)

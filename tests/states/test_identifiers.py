"""A clerk types identifiers at the counter; typos are caught with a message saying what is wrong."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.identifiers import (
    USCC_CHARSET,
    IdentifierError,
    mask_id,
    mask_phone,
    mask_text,
    resident_id_check_char,
    s10_check_digit,
    uscc_check_char,
    validate_resident_id,
    validate_s10,
    validate_uscc,
)

# --- 统一社会信用代码 -------------------------------------------------------------------------------


def _uscc_by_hand(body: str) -> str:
    """GB 32100-2015 spelled out independently of the module: value = index in the 31-char set."""
    weights = [3**i % 31 for i in range(17)]  # the standard's weights are 3^(i) mod 31
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(body, weights, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def test_uscc_weights_are_powers_of_three_mod_31() -> None:
    # The weights listed in GB 32100-2015 are 3^i mod 31; the by-hand helper relies on that.
    assert [3**i % 31 for i in range(17)] == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def test_uscc_example_from_the_standard_is_accepted() -> None:
    # 91350100M000100Y43, the sample code used in GB 32100-2015 material. By hand: values
    # 9,1,3,5,0,1,0,0,M=21,0,0,0,1,0,0,Y=30,4 times the weights give
    # 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640; 1640 mod 31 = 28; 31 - 28 = 3 → "3".
    assert _uscc_by_hand("91350100M000100Y4") == "3"
    assert validate_uscc("91350100M000100Y43") == "91350100M000100Y43"


def test_uscc_is_normalized_to_upper_case_without_surrounding_spaces() -> None:
    assert validate_uscc("  91350100m000100y43 \n") == "91350100M000100Y43"


def test_uscc_with_a_wrong_check_character_names_field_and_both_characters() -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_uscc("91350100M000100Y44", field="applicant.id_number")
    err = caught.value
    assert err.field == "applicant.id_number"
    assert err.message == "applicant.id_number: check digit is 4, expected 3"
    assert err.message_zh == "applicant.id_number：校验码为 4，应为 3"
    assert str(err) == err.message
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("91350100M000100Y4", "18 characters, got 17"),
        ("91350100M000100Y433", "18 characters, got 19"),
        ("91350100I000100Y43", "character 9 'I' is not allowed"),
        ("91350100O000100Y43", "character 9 'O' is not allowed"),
        ("9135010-M000100Y43", "character 8 '-' is not allowed"),
        ("9135０100M000100Y43", "character 5 '０' is not allowed"),  # full-width digit from an IME
    ],
)
def test_uscc_refusals_say_why(code: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_uscc(code)
    assert reason in caught.value.message
    assert caught.value.message.startswith("applicant.id_number: ")
    assert caught.value.message_zh


def test_uscc_message_does_not_repeat_the_whole_code() -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_uscc("91350100M000100Y44")
    assert "91350100M000100Y4" not in caught.value.message


_uscc_bodies = st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17)


@given(_uscc_bodies)
def test_uscc_any_body_with_its_computed_check_is_valid(body: str) -> None:
    check = uscc_check_char(body)
    assert check == _uscc_by_hand(body)
    assert validate_uscc(body + check) == body + check


@given(_uscc_bodies, st.integers(0, 17), st.sampled_from(USCC_CHARSET))
def test_uscc_changing_any_one_character_is_caught(body: str, pos: int, new: str) -> None:
    code = body + uscc_check_char(body)
    changed = code[:pos] + new + code[pos + 1 :]
    if changed == code:
        return
    # Modulus 31 with weights coprime to 31 detects every single-character substitution.
    with pytest.raises(IdentifierError):
        validate_uscc(changed)


# --- 居民身份证号 ---------------------------------------------------------------------------------


def test_resident_id_example_from_gb_11643_is_accepted() -> None:
    # GB 11643-1999's example 11010519491231002X. By hand: digits 1,1,0,1,0,5,1,9,4,9,1,2,3,1,0,0,2
    # times 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167;
    # 167 mod 11 = 2 → "10X98765432"[2] = "X".
    assert validate_resident_id("11010519491231002X") == "11010519491231002X"


def test_resident_id_lower_case_x_is_accepted_and_normalized() -> None:
    assert validate_resident_id(" 11010519491231002x ") == "11010519491231002X"


def test_resident_id_with_a_digit_check() -> None:
    # 44030419800101000?: 4*7+4*9+0+3*5+0+4*4+1*2+9*1+8*6+0+0+1*9+0+1*5+0+0+0 = 168;
    # 168 mod 11 = 3 → "10X98765432"[3] = "9".
    assert resident_id_check_char("44030419800101000") == "9"
    assert validate_resident_id("440304198001010009") == "440304198001010009"


def test_resident_id_wrong_check_digit_message() -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_resident_id("110105194912310023", field="agent.id_number")
    assert caught.value.message == "agent.id_number: check digit is 3, expected X"
    assert caught.value.message_zh == "agent.id_number：校验码为 3，应为 X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("", "empty"),
        ("110105491231002", "15-digit first-generation ID numbers are not accepted"),
        ("11010519491231002", "18 characters, got 17"),
        ("11010519491231002XX", "18 characters, got 19"),
        ("1101051949123100XX", "17 digits followed by a digit or X"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        ("１１0105194912310021", "17 digits followed by a digit or X"),  # full-width digits
    ],
)
def test_resident_id_shape_refusals(number: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_resident_id(number)
    assert reason in caught.value.message
    assert caught.value.field == "applicant.id_number"


def _with_check(body: str) -> str:
    return body + resident_id_check_char(body)


@pytest.mark.parametrize(
    "birth",
    ["19490231", "19491301", "19490001", "20230229", "18491231", "00000000"],
)
def test_resident_id_impossible_birth_date_is_refused_even_with_a_correct_check(birth: str) -> None:
    number = _with_check(f"110105{birth}002")
    with pytest.raises(IdentifierError) as caught:
        validate_resident_id(number)
    assert "birth date" in caught.value.message and "impossible" in caught.value.message
    assert "出生日期" in caught.value.message_zh


def test_resident_id_birth_date_in_the_future_is_refused() -> None:
    number = _with_check("11010520300101002")
    with pytest.raises(IdentifierError):
        validate_resident_id(number, today=date(2026, 1, 1))
    assert validate_resident_id(number, today=date(2030, 1, 1)) == number


def test_resident_id_leap_day_birth_is_fine() -> None:
    number = _with_check("11010520000229002")
    assert validate_resident_id(number) == number


_birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31))


@st.composite
def _id_bodies(draw: st.DrawFn) -> str:
    region = draw(st.text(alphabet=string.digits, min_size=6, max_size=6))
    born = draw(_birth_dates)
    seq = draw(st.text(alphabet=string.digits, min_size=3, max_size=3))
    return f"{region}{born:%Y%m%d}{seq}"


@given(_id_bodies())
def test_resident_id_any_body_with_its_computed_check_is_valid(body: str) -> None:
    number = _with_check(body)
    assert validate_resident_id(number) == number
    assert validate_resident_id(number.lower()) == number


@given(_id_bodies(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_resident_id_changing_any_one_character_is_caught(body: str, pos: int, new: str) -> None:
    number = _with_check(body)
    changed = number[:pos] + new + number[pos + 1 :]
    if changed == number:
        return
    with pytest.raises(IdentifierError):
        validate_resident_id(changed)


# --- UPU S10 -----------------------------------------------------------------------------------------


def test_s10_example_from_the_upu_standard() -> None:
    # RR473124829GB: serial 47312482 × weights 8,6,4,2,3,5,9,7
    # = 32+42+12+2+6+20+72+14 = 200; 200 mod 11 = 2; 11 - 2 = 9 → check digit 9.
    assert s10_check_digit("47312482") == "9"
    assert validate_s10("RR473124829GB") == "RR473124829GB"


def test_s10_is_normalized_from_a_label_with_spaces_and_lower_case() -> None:
    assert validate_s10(" rr 473 124 829 gb ") == "RR473124829GB"


def test_s10_remainder_rules_10_becomes_0_and_11_becomes_5() -> None:
    # 00000001: sum = 7 → 11 - 7 = 4 (ordinary case).
    assert s10_check_digit("00000001") == "4"
    # 00000000: sum = 0 → 11 - 0 = 11 → 5.
    assert s10_check_digit("00000000") == "5"
    # 00000012: 9×1 + 7×2 = 23 → remainder 1 → 11 - 1 = 10 → 0.
    # 00100001: 4×1 + 7×1 = 11 → remainder 0 → 11 → 5.
    assert s10_check_digit("00000012") == "0"
    assert s10_check_digit("00100001") == "5"
    assert validate_s10("EE000000120CN") == "EE000000120CN"


def test_s10_wrong_check_digit_message() -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_s10("RR473124828GB")
    assert caught.value.message == "tracking_no: check digit is 8, expected 9"
    assert caught.value.message_zh == "tracking_no：校验码为 8，应为 9"


@pytest.mark.parametrize(
    "tracking",
    [
        "",
        "RR47312482GB",
        "RR4731248299GB",
        "R1473124829GB",
        "RR473124829G1",
        "12473124829GB",
        "RR47312482AGB",
    ],
)
def test_s10_shape_refusals(tracking: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        validate_s10(tracking)
    assert caught.value.field == "tracking_no"
    assert caught.value.message.startswith("tracking_no: ")


_letters = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2)
_serials = st.text(alphabet=string.digits, min_size=8, max_size=8)


@given(_letters, _serials, _letters)
def test_s10_any_serial_with_its_computed_check_is_valid(service: str, serial: str, country: str) -> None:
    tracking = f"{service}{serial}{s10_check_digit(serial)}{country}"
    assert validate_s10(tracking) == tracking


def _s10_remainder(serial: str) -> int:
    return sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11


@given(_letters, _serials, _letters, st.integers(2, 10), st.sampled_from(string.digits))
def test_s10_changing_one_digit_is_caught_except_the_known_blind_spot(
    service: str, serial: str, country: str, pos: int, new: str
) -> None:
    tracking = f"{service}{serial}{s10_check_digit(serial)}{country}"
    changed = tracking[:pos] + new + tracking[pos + 1 :]
    if changed == tracking:
        return
    # A one-digit change always changes the weighted sum mod 11 (11 is prime, weights < 11); the only
    # blind spot is that remainders 0 and 6 both give check digit 5 (11 → 5 and 11 - 6 = 5).
    if pos < 10 and {_s10_remainder(serial), _s10_remainder(changed[2:10])} == {0, 6}:
        assert validate_s10(changed) == changed
    else:
        with pytest.raises(IdentifierError):
            validate_s10(changed)


def test_s10_every_single_digit_change_of_the_upu_example_is_caught() -> None:
    # RR473124829GB has remainder 2 (see above), outside the 0/6 blind spot, so each of the 81
    # one-digit substitutions in its serial and check digit must be refused.
    tracking = "RR473124829GB"
    refused = 0
    for pos in range(2, 11):
        for new in string.digits:
            changed = tracking[:pos] + new + tracking[pos + 1 :]
            if changed == tracking:
                continue
            with pytest.raises(IdentifierError):
                validate_s10(changed)
            refused += 1
    assert refused == 81


# --- masking -----------------------------------------------------------------------------------------


def test_mask_resident_id_keeps_first_six_and_last_four() -> None:
    assert mask_id("110105194912311234") == "110105********1234"
    assert mask_id("11010519491231002X") == "110105********002X"


def test_mask_uscc_keeps_first_four_and_last_four() -> None:
    assert mask_id("91350100M000100Y43") == "9135**********0Y43"


def test_mask_of_something_else_shows_little() -> None:
    assert mask_id("G12345678") == "*****5678"
    assert mask_id("1234567") == "*******"
    assert mask_id("") == ""


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "+86 138****5678"
    assert mask_phone("010-62345678") == "***-****5678"
    assert mask_phone("１３８１２３４５６７８") == "138****5678"  # full-width, from an input method


def test_mask_text_masks_every_id_and_mobile_in_a_notification() -> None:
    text = (
        "申请人张三（身份证号11010519491231002X，手机13812345678）的材料已转递；"
        "联系人李四 440304198001010009, tel +86 139-8765-4321. 受理编号 2026-000123."
    )
    masked = mask_text(text)
    assert masked == (
        "申请人张三（身份证号110105********002X，手机138****5678）的材料已转递；"
        "联系人李四 440304********0009, tel +86 139****4321. 受理编号 2026-000123."
    )
    for secret in ("19491231", "12345678", "19800101", "8765"):
        assert secret not in masked


def test_mask_text_masks_a_mistyped_id_too() -> None:
    # A wrong check digit does not make the number less personal.
    assert mask_text("id=110105194912310023;") == "id=110105********0023;"


def test_mask_text_leaves_longer_digit_runs_and_short_numbers_alone() -> None:
    text = "bank ref 12345678901234567890123, order 2026001, amount 1380"
    assert mask_text(text) == text


@given(
    _id_bodies(),
    st.text(alphabet="申请人材料 ,;:（）", max_size=10),
    st.text(alphabet="已转递 .", max_size=10),
)
def test_mask_text_never_leaks_the_birth_date_of_an_id(body: str, before: str, after: str) -> None:
    number = _with_check(body)
    masked = mask_text(before + number + after)
    assert number not in masked
    assert mask_id(number) in masked

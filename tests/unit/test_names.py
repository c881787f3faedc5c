"""Vietnamese names: stored in NFC, compared whatever the tone placement."""

import unicodedata

from services.registry.names import clean, invisible, name_key, slug, tone_slug


def test_old_and_new_tone_placement_name_the_same_unit() -> None:
    assert name_key("Xã Hoà Bình") == name_key("Xã Hòa Bình")
    assert name_key("Phường Thuỷ Nguyên") == name_key("Phường Thủy Nguyên")


def test_different_tones_stay_different_names() -> None:
    assert name_key("Xã Cẩm Giàng") != name_key("Xã Cẩm Giang")
    assert name_key("Hòa") != name_key("Hóa")


def test_decomposed_input_is_stored_in_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "  Phường  Hồng Bàng ")
    assert clean(decomposed) == unicodedata.normalize("NFC", "Phường Hồng Bàng")


def test_codes_are_ascii_and_keep_tones_when_needed() -> None:
    assert slug("Đặc khu Bạch Long Vĩ") == "dac-khu-bach-long-vi"
    assert slug("Xã Cẩm Giàng") == slug("Xã Cẩm Giang") == "xa-cam-giang"
    assert tone_slug("Xã Cẩm Giàng") != tone_slug("Xã Cẩm Giang")


def test_non_characters_and_lone_surrogates_are_no_text_a_name_may_hold() -> None:
    for char in ("\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff",
                 "\ud800", "\udfff"):
        assert invisible(f"Xã An{char} Hưng") == [char], repr(char)
    assert invisible("Xã An Hưng \ufdcf\ufdf0") == []  # beside them: ordinary letters

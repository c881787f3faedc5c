"""Vietnamese names: NFC for storage, a placement-blind key for comparison.

Two spellings of one name circulate: the old tone placement ("Hoà", "Thuỷ") and the new
("Hòa", "Thủy"). NFC keeps them different, so the comparison key moves every tone mark off
its vowel and appends it to the syllable: both spellings then give the same key.
"""

import re
import unicodedata

_TONES = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
_SPACES = re.compile(r"\s+")


def clean(name: str) -> str:
    """The stored form: NFC, trimmed, inner white space collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def name_key(name: str) -> str:
    """The comparison form: case-folded, tone marks moved to the end of each syllable."""
    return " ".join(_syllable_key(word) for word in clean(name).casefold().split(" "))


def _syllable_key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = "".join(_TONES[c] for c in decomposed if c in _TONES)
    bare = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", bare) + tones


def slug(name: str) -> str:
    """An ASCII code made from a name: "Phường Thủy Nguyên" -> "phuong-thuy-nguyen"."""
    text = clean(name).replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def tone_slug(name: str) -> str:
    """A code that keeps tones, for names whose plain slug is taken ("xa-cam3-giang2")."""
    return slug(name_key(name))

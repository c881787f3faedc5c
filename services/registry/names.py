"""Vietnamese names: NFC for storage, a placement-blind key for comparison.

Two spellings of one name circulate: the old tone placement ("Hoà", "Thuỷ") and the new
("Hòa", "Thủy"). NFC keeps them different, so the comparison key moves every tone mark off
its vowel and appends it to the syllable: both spellings then give the same key.

Some characters show nothing: controls, format characters (zero-width space and joiners,
bidi overrides and isolates, the byte-order mark, the soft hyphen) and the other code points
Unicode marks default-ignorable. A name holding one would display as another unit's; the
schemas refuse them (`invisible`), and the key leaves them out, so names that display the
same compare the same. Non-characters (U+FFFE, U+FFFF and the like) and lone surrogates
are no text at all: no file can carry them (UTF-8 cannot encode a surrogate, XML neither),
so they are refused too.
"""

import re
import unicodedata

_TONES = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
_SPACES = re.compile(r"\s+")
# Default_Ignorable_Code_Point beyond categories Cc and Cf: the combining grapheme joiner,
# Hangul and Khmer fillers, variation selectors, and the code points reserved as ignorable.
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2065\u3164"
                        "\ufe00-\ufe0f\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff]")


def _shows_nothing(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf") or _IGNORABLE.match(char) is not None


def _no_text(char: str) -> bool:
    """A lone surrogate, or one of the 66 non-characters: U+FDD0 to U+FDEF, and the last
    two code points of each plane (U+FFFE, U+FFFF, U+1FFFE...)."""
    point = ord(char)
    return unicodedata.category(char) == "Cs" or 0xFDD0 <= point <= 0xFDEF or \
        point & 0xFFFE == 0xFFFE


def invisible(name: str) -> list[str]:
    """The characters of a name that cannot be seen, white-space controls (tab, new line)
    included, and those that are no text (non-characters, lone surrogates): what a name
    must not hold."""
    if name.isprintable() and _IGNORABLE.search(name) is None:
        return []  # the usual name, at C speed: printable means none is Cc, Cf, Cs or Cn
    return [char for char in name if _shows_nothing(char) or _no_text(char)]


def clean(name: str) -> str:
    """The stored form: NFC, trimmed, inner white space collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def name_key(name: str) -> str:
    """The comparison form: what cannot be seen left out (a tab or a new line shows as a
    space), case-folded, tone marks moved to the end of each syllable."""
    shown = "".join(c for c in name if c.isspace() or not _shows_nothing(c))
    return " ".join(_syllable_key(word) for word in clean(shown).casefold().split(" "))


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

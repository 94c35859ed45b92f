"""What a display name may be: trimmed, 1–100 characters, no bidirectional controls, and not a
look-alike of the staff.

Names are shown to other users next to messages, so a name that reorders the text around it
(U+202E makes "Eve\u202egnp.exe" read backwards) or that reads as "Admin" or "Cleave Support"
is a phishing tool. Look-alikes are caught on a folded form: NFKC (full-width and styled
letters become plain), case folded, invisible format characters dropped, common digit
stand-ins read as letters, and the name cut into words at anything that is not a letter or
digit (runs of single letters, "a d m i n", rejoin into one word). A name is refused when its
first word or its whole folded form is a reserved word; names that merely start with one
("Staffan", "Adminah") are people's names and stay allowed.
"""

from __future__ import annotations

import re
import unicodedata

from apps.identity.error_codes import (
    DisplayNameBidiControl,
    DisplayNameEmpty,
    DisplayNameReserved,
    DisplayNameTooLong,
)

MAX_LENGTH = 100
RESERVED = frozenset({"admin", "administrator", "staff", "support", "moderator", "cleave"})
# LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI; LRM, RLM; the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_STAND_INS = str.maketrans("013457@$", "oieastas")  # digits and signs that stand in for letters
_WORD = re.compile(r"[^\W_]+")


def display_name_clean(name: str) -> str:
    """The name as stored (trimmed), or a 422 naming what is wrong with it."""
    bidi = sorted({f"U+{ord(char):04X}" for char in name if char in BIDI_CONTROLS})
    if bidi:
        raise DisplayNameBidiControl(details={"characters": bidi})
    name = name.strip()
    if not name:
        raise DisplayNameEmpty()
    if len(name) > MAX_LENGTH:
        raise DisplayNameTooLong(details={"max_length": MAX_LENGTH, "length": len(name)})
    if _imitates_staff(name):
        raise DisplayNameReserved()
    return name


def _imitates_staff(name: str) -> bool:
    folded = unicodedata.normalize("NFKC", name).casefold()
    folded = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    words = _joined_letters(_WORD.findall(folded.translate(_STAND_INS)))
    return bool(words) and (words[0] in RESERVED or "".join(words) in RESERVED)


def _joined_letters(words: list[str]) -> list[str]:
    """ "a d m i n team" → ["admin", "team"]: spaced-out letters are one word."""
    joined: list[str] = []
    run = ""
    for word in words:
        if len(word) == 1:
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(word)
    if run:
        joined.append(run)
    return joined

"""Search keys for French place names, and the parts of a typed place query.

A search key is what a person may type reduced to one spelling: lower case, no
accents, ligatures spelled out, every run of hyphens, apostrophes, spaces and other
punctuation turned into one space, and the abbreviations "St", "Ste", "Sts",
"Stes" spelled out. So "Saint-Lô", "saint lo", "ST-LO" and "St Lô" share the key
"saint lo", and "ROCHEFORT EN TERRE" and "Rochefort-en-Terre" share
"rochefort en terre". Keys hold only ASCII letters, digits and single spaces, which
keeps them safe to compare byte-wise in any database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_LENGTH = 100

_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})
_SEPARATOR = re.compile(r"[^a-z0-9\u0300-\u036f]+")

# A French postcode ("56000", also typed "56 000"), and a département code
# ("1", "01", "56", "2A", "2b", "974").
POSTCODE_RE = re.compile(r"^(\d{2})\s?(\d{3})$")
_DEPARTMENT_CODE_RE = re.compile(r"^(?:\d{1,3}|2[ab])$")


def search_key(text: str) -> str:
    """The search key of a name or query (see the module's docstring)."""
    if not text:
        return ""
    folded = text.casefold().translate(_LIGATURES)
    # NFKD splits "ô" into "o" and a combining accent; every other character that is
    # not a letter or digit (typographic apostrophes included) separates words, then
    # the ASCII encoding drops the accents.
    decomposed = _SEPARATOR.sub(" ", unicodedata.normalize("NFKD", folded))
    tokens = decomposed.encode("ascii", "ignore").decode("ascii").split()
    return " ".join(_ABBREVIATIONS.get(t, t) for t in tokens)


def department_code(text: str) -> str | None:
    """'56' -> '56', '1' -> '01', '2a' -> '2A'; None when `text` is not a code."""
    code = text.strip().upper()
    if not _DEPARTMENT_CODE_RE.fullmatch(code.lower()):
        return None
    if code.isdigit():
        if len(code) == 3 and not code.startswith("97"):
            return None
        code = code.zfill(2)
    return code


def postcode(text: str) -> str | None:
    """'56000' or '56 000' -> '56000'; None otherwise."""
    match = POSTCODE_RE.fullmatch(text.strip())
    return match.group(1) + match.group(2) if match else None


@dataclass(frozen=True)
class PlaceQuery:
    """A typed query split into a name and what narrows it down.

    `qualifier` is the text that followed the name ("50" in "Saint-Lô (50)",
    "Morbihan" in "Sainte-Marie, Morbihan", "56000" in "Vannes 56000"); the
    resolver decides whether it names a département or a postcode.
    """

    text: str
    key: str
    postcode: str | None = None
    qualifier: str | None = None
    # The key of the whole text, tried first when a qualifier was split off: "Paris 15"
    # is a place of its own before it is "Paris" in département 15.
    full_key: str = ""


_PARENTHESIS_RE = re.compile(r"^(?P<name>.+?)\s*\((?P<qualifier>[^()]*)\)\s*$")
_TRAILING_CODE_RE = re.compile(
    r"^(?P<name>.*?[^\s,;/-])[\s,;/-]+(?P<qualifier>\d{2}\s?\d{3}|\d{1,3}|2[abAB])$"
)
_LEADING_POSTCODE_RE = re.compile(r"^(?P<qualifier>\d{2}\s?\d{3})[\s,;/-]+(?P<name>.*\D.*)$")


def parse_query(raw: str) -> PlaceQuery:
    """Split what a person typed; never raises. Length is checked by the caller."""
    text = " ".join((raw or "").replace("\x00", " ").split())
    code = postcode(text)
    if code:
        return PlaceQuery(text=text, key="", postcode=code)
    name, qualifier = text, None
    for pattern in (_PARENTHESIS_RE, _TRAILING_CODE_RE, _LEADING_POSTCODE_RE):
        match = pattern.match(text)
        if match:
            name, qualifier = match.group("name"), match.group("qualifier").strip()
            break
    else:
        if "," in text:
            head, _, tail = text.rpartition(",")
            if search_key(head) and search_key(tail):
                name, qualifier = head, tail.strip()
    return PlaceQuery(text=text, key=search_key(name), qualifier=qualifier or None,
                      full_key=search_key(text))

"""The identifiers of a French business: SIRET (establishment) and intra-EU VAT
number, as farms and restaurants type them."""

from __future__ import annotations

import re

# SIRET and VAT numbers --------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]")
# La Poste's establishments share one SIREN and do not pass the Luhn check: INSEE
# gives them a rule of their own (the sum of the digits is a multiple of 5).
LA_POSTE_SIREN = "356000000"


def normalize_digits(text: str | None) -> str:
    return _SEPARATORS.sub("", text or "").upper()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def valid_siren(siren: str) -> bool:
    return len(siren) == 9 and siren.isascii() and siren.isdigit() and _luhn_ok(siren)


def valid_siret(siret: str) -> bool:
    """14 digits (spaces allowed) passing the Luhn check, and a valid SIREN in front;
    La Poste's establishments (SIREN 356 000 000) by their own rule."""
    siret = normalize_digits(siret)
    if len(siret) != 14 or not siret.isascii() or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN):
        return sum(int(c) for c in siret) % 5 == 0
    return _luhn_ok(siret) and valid_siren(siret[:9])


def vat_key(siren: str) -> int:
    return (12 + 3 * (int(siren) % 97)) % 97


def vat_number_for(siren: str) -> str:
    return f"FR{vat_key(siren):02d}{siren}"


def valid_vat_number(vat: str) -> bool:
    """A French intra-EU VAT number: FR, two key digits, the 9-digit SIREN, with
    key = (12 + 3 * (SIREN % 97)) % 97."""
    vat = normalize_digits(vat)
    if len(vat) != 13 or not vat.startswith("FR") or not vat[2:].isascii() \
            or not vat[2:].isdigit():
        return False
    siren = vat[4:]
    return int(vat[2:4]) == vat_key(siren)

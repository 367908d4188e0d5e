"""Kubernetes resource quantities ("90", "900m", "1.5k", "1Ki", "5e2") as exact decimals.

SMI TrafficSplit v1alpha1 declares backend weights as quantities, so a route written by another
tool (or by Flagger) may say "900m" where we would write "90". This module only parses; what the
numbers mean is the router's business.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

_QUANTITY: Final = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$"
)
_MULTIPLIERS: Final = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity; ValueError (naming the input) when it is not one."""
    if isinstance(value, str):
        match = _QUANTITY.match(value.strip())
        if match is not None:
            number = Decimal(match["number"])
            suffix = match["suffix"] or ""
            if len(suffix) > 1 and suffix[0] in "eE":  # an exponent; a lone "E" is exa
                return number.scaleb(int(suffix[1:]))
            return number * _MULTIPLIERS[suffix]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    raise ValueError(f"not a Kubernetes quantity: {value!r}")

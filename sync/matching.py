"""Matching source records to what Halo already holds, before anything is created.

Why: a customer typed "ACME Limited" in Sage and "Acme Ltd" in Halo is one company; creating it twice is the
worst thing a sync can do. Matching is exact on a normalised name (as Halo's own integrations do) or on the
accounts key; a fuzzy score is only ever a *suggestion* a person must confirm, never applied silently.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz import fuzz, process

# Legal-form words that say nothing about which company it is; dropped from the END of a name only, so
# "The Company Store" keeps its words while "Acme Co Ltd" becomes "acme".
COMPANY_SUFFIXES = frozenset(
    {
        "ltd",
        "limited",
        "llc",
        "llp",
        "lp",
        "inc",
        "incorporated",
        "plc",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "pty",
        "ag",
        "bv",
        "nv",
        "sarl",
        "srl",
        "spa",
        "ulc",
    }
)

# Above this many records, suggestions score only records sharing a word start with the name (see _blocks):
# scoring every pair of 10,000 customers x 10,000 Halo clients would take minutes.
FULL_SCAN_LIMIT = 500
BLOCK_PREFIX = 3

# Characters removed without leaving a gap: "O'Brien" is "OBrien", "A.B.C." is "ABC".
_JOINING_MARKS = frozenset("'’‘`´.")


def _fold(text: str) -> str:
    """Compatibility-decompose, drop accents, casefold; repeated so the result is a fixed point."""
    for _ in range(4):
        decomposed = unicodedata.normalize("NFKD", text)
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
        if folded == text:
            break
        text = folded
    return text


def normalise_name(name: object) -> str:
    """The form two names must share to be "the same company": case, accents, punctuation, legal suffix.

    "Acme Ltd", "ACME Limited" and "acme, ltd." all give "acme"; "Smith & Sons LLC" gives "smith and sons";
    "Acme Holdings" stays "acme holdings". Never raises; idempotent.
    """
    text = _fold(name if isinstance(name, str) else ("" if name is None else str(name)))
    pieces: list[str] = []
    for ch in text:
        if ch == "&":
            pieces.append(" and ")
        elif ch in _JOINING_MARKS:
            continue
        elif unicodedata.category(ch)[0] in "LN":
            pieces.append(ch)
        else:
            pieces.append(" ")
    tokens = "".join(pieces).split()
    while len(tokens) > 1 and tokens[-1] in COMPANY_SUFFIXES:
        tokens.pop()
    return " ".join(tokens)


def _blocks(normalised: str) -> set[str]:
    """Word starts of a normalised name, the cheap key under which near matches are looked for."""
    return {word[:BLOCK_PREFIX] for word in normalised.split()}


def normalise_key(value: object) -> str:
    """An accounts key as compared: trimmed and case-insensitive ("acme01 " is "ACME01")."""
    if value is None:
        return ""
    return str(value).strip().casefold()


class HaloIndex:
    """One Halo resource's records, looked up by accounts key and by normalised name."""

    def __init__(
        self,
        records: Iterable[dict[str, Any]] = (),
        *,
        name_field: str = "name",
        key_field: str = "accountsid",
    ) -> None:
        self.name_field = name_field
        self.key_field = key_field
        # Slots keep positions stable for rapidfuzz; a replaced record leaves a None slot and an empty name.
        self._slots: list[dict[str, Any] | None] = []
        self._names: list[str] = []  # normalised name per slot, parallel to _slots
        self._slot_by_id: dict[object, int] = {}
        self._by_block: dict[str, list[int]] = {}  # word start -> slots, to find suggestion candidates fast
        self._by_key: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, list[dict[str, Any]]] = {}
        self._count = 0
        for record in records:
            self.add(record)

    def add(self, record: dict[str, Any]) -> None:
        """Add one Halo record; a record whose id is already indexed replaces the old one."""
        record_id = record.get("id")
        if record_id is not None and record_id in self._slot_by_id:
            self._forget(self._slot_by_id[record_id])
        name = normalise_name(str(record.get(self.name_field) or ""))
        if record_id is not None:
            self._slot_by_id[record_id] = len(self._slots)
        self._slots.append(record)
        for block in _blocks(name):
            self._by_block.setdefault(block, []).append(len(self._slots) - 1)
        self._names.append(name)
        self._count += 1
        key = normalise_key(record.get(self.key_field))
        if key and key not in self._by_key:
            self._by_key[key] = record
        if name:
            self._by_name.setdefault(name, []).append(record)

    def _forget(self, slot: int) -> None:
        old = self._slots[slot]
        if old is None:
            return
        name = self._names[slot]
        self._slots[slot] = None
        self._names[slot] = ""
        self._count -= 1
        key = normalise_key(old.get(self.key_field))
        if key and self._by_key.get(key) is old:
            del self._by_key[key]
            for other in self._slots:  # another record with the same key takes over (rare)
                if other is not None and normalise_key(other.get(self.key_field)) == key:
                    self._by_key[key] = other
                    break
        if name in self._by_name:
            remaining = [r for r in self._by_name[name] if r is not old]
            if remaining:
                self._by_name[name] = remaining
            else:
                del self._by_name[name]

    def by_key(self, key: str) -> dict[str, Any] | None:
        """The record whose accounts key equals ``key`` (trimmed, case-insensitive), else None."""
        wanted = normalise_key(key)
        return self._by_key.get(wanted) if wanted else None

    def _free_for(self, record: dict[str, Any], source_key: str) -> bool:
        """A record already carrying a DIFFERENT accounts key belongs to another source record."""
        carried = normalise_key(record.get(self.key_field))
        return not carried or (bool(source_key) and carried == normalise_key(source_key))

    def by_name(self, name: str, *, source_key: str = "") -> list[dict[str, Any]]:
        """Records with exactly the same normalised name whose key is empty (or equals ``source_key``)."""
        wanted = normalise_name(name)
        if not wanted:
            return []
        return [r for r in self._by_name.get(wanted, ()) if self._free_for(r, source_key)]

    def suggestions(
        self, name: str, *, limit: int = 3, min_score: float = 80.0, source_key: str = ""
    ) -> list[tuple[dict[str, Any], float]]:
        """Near matches (score 0..100, best first) for a person to confirm; never applied automatically."""
        wanted = normalise_name(name)
        if not wanted or not self._count:
            return []
        choices: list[str] | dict[int, str] = self._names
        if len(self._slots) > FULL_SCAN_LIMIT:
            choices = {slot: self._names[slot] for slot in self._candidates(wanted)}
        found = process.extract(wanted, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=min_score)
        results: list[tuple[dict[str, Any], float]] = []
        for _choice, score, position in sorted(found, key=lambda hit: (-hit[1], hit[2])):
            record = self._slots[position]
            if record is None or not self._free_for(record, source_key):
                continue
            results.append((record, round(float(score), 1)))
            if len(results) >= limit:
                break
        return results

    def _candidates(self, wanted: str) -> set[int]:
        """Slots sharing a word start with ``wanted``; very common word starts only as a last resort."""
        crowded = max(200, len(self._slots) // 50)
        postings = sorted((self._by_block.get(block, []) for block in _blocks(wanted)), key=len)
        candidates: set[int] = set()
        for slots in postings:
            if len(slots) > crowded and candidates:
                break
            candidates.update(slots)
        return candidates

    def records(self) -> list[dict[str, Any]]:
        return [r for r in self._slots if r is not None]

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"HaloIndex({len(self)} records, key_field={self.key_field!r})"


def _as_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def tax_matches(code: str, rate: Decimal, halo_taxes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Halo taxes with the same code (case-insensitive, trimmed) AND the same percentage as the source's."""
    wanted_code = normalise_key(code)
    wanted_rate = _as_decimal(rate)
    if not wanted_code or wanted_rate is None:
        return []
    matches: list[dict[str, Any]] = []
    for tax in halo_taxes:
        if normalise_key(tax.get("code")) != wanted_code:
            continue
        value = _as_decimal(tax.get("value"))
        if value is not None and value == wanted_rate:
            matches.append(tax)
    return matches

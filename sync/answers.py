"""Pair the records in Halo's answer to a save with the records sent, by what identifies them, never by place.

Why: Halo's OpenAPI documents no POST response body, and real answers come as an array in the order sent,
one object, the first record only, or nothing usable (docs/halo.md). A proxy or a Halo build that reorders
the array would, paired by position, link every customer to another customer's record. So every answered
record must carry the sent record's identity: its id for an update, its key for a create (``accountsid``,
``third_party_id``, ``thirdpartyid``...), and no field that says it is another record (another client,
another invoice, another amount). Whatever cannot be paired is left for the engine to look up in Halo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from halo.resources import RESOURCES
from sync.matching import normalise_key

# Besides its key field (halo/resources.py), what else names a record's identity in the books, per resource.
MORE_IDENTITY: dict[str, tuple[str, ...]] = {"Invoice": ("thirdpartyinvoicenumber",)}
# A payment answered without its thirdpartyid is still known by its invoice, amount and date.
PAYMENT_FIELDS = ("invoice_id", "amount", "date")


def identity_fields(resource: str) -> tuple[str, ...]:
    """The fields that must agree for an answered record to be the one sent: its key, then its parent's id.

    A record on another parent (another client, another invoice) is another record.
    """
    return _IDENTITY_FIELDS.get(resource, ())


# Worked out once from the resource table: asked for each record of every answer.
_IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    name: (
        row.key_field,
        *MORE_IDENTITY.get(name, ()),
        *((row.parent[0],) if row.parent is not None else ()),
    )
    for name, row in RESOURCES.items()
}


def halo_id(record: Mapping[str, Any]) -> int | None:
    """A record's Halo id as a positive int (Halo may answer ids as text), else None."""
    value = record.get("id")
    if type(value) is int:  # what Halo sends almost always: no text round trip
        return value if value > 0 else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _present(value: object) -> bool:
    if type(value) is str:
        return value != "" and not value.isspace()
    return value is not None and str(value).strip() != ""


def _same(sent: object, answered: object) -> bool:
    """Equal as keys (trimmed, case-insensitive) or as numbers ("12.50" is 12.5; Halo may answer text)."""
    kind = type(sent)
    if (kind is str or kind is int) and type(answered) is kind and sent == answered:
        return True  # the answer echoes what was sent, as it mostly does: equal however compared
    if normalise_key(sent) == normalise_key(answered):
        return True
    try:
        return Decimal(str(sent).strip()) == Decimal(str(answered).strip())
    except (InvalidOperation, ValueError):
        return False


def _same_day(sent: object, answered: object) -> bool:
    return str(sent).strip()[:10] == str(answered).strip()[:10]


def agrees(resource: str, sent: Mapping[str, Any], answered: Mapping[str, Any]) -> bool | None:
    """True: ``answered`` carries ``sent``'s identity; False: it names another record; None: it says nothing.

    Only fields both sides carry are compared, so a lean answer (an id and a name) gives None, not False.
    """
    compared = False
    for name in _IDENTITY_FIELDS.get(resource, ()):
        mine = sent.get(name)
        if mine is None:
            continue
        theirs = answered.get(name)
        if theirs is None:
            continue
        kind = type(mine)
        if (kind is str or kind is int) and type(theirs) is kind and mine == theirs:
            # Echoed, as it mostly is: the same however compared; compared unless it is blank text.
            if kind is int or (mine != "" and not mine.isspace()):
                compared = True
            continue
        if not (_present(mine) and _present(theirs)):
            continue
        if not _same(mine, theirs):
            return False  # one field naming another record is enough
        compared = True
    if resource == "InvoicePayment":
        keyless = not (_present(sent.get("thirdpartyid")) and _present(answered.get("thirdpartyid")))
        if keyless and all(_present(answered.get(n)) for n in PAYMENT_FIELDS):
            return (
                _same(sent.get("invoice_id"), answered["invoice_id"])
                and _same(sent.get("amount"), answered["amount"])
                and _same_day(sent.get("date"), answered["date"])
            )
    return True if compared else None


def pair_answer(
    resource: str, sent: Sequence[Mapping[str, Any]], answer: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any] | None]:
    """For each sent record, the one answered record that is provably it, else None.

    An update (a sent ``id``) pairs with the answered record of that id unless the answer names another key;
    a create pairs only with a record carrying its key. An answered record pairs at most once, and a sent
    record that two answered records could be stays unpaired (ambiguous): position never decides.

    Each sent record is compared (``agrees``) only with the answered records that could be it, found in
    ``_Candidates`` by id or by key, so a batch of n costs about n comparisons, not n * n.
    """
    answered = _Candidates(resource, answer)
    candidates: list[list[int]] = []
    claims: dict[int, int] = {}  # how many sent records each answered record could be
    for record in sent:
        wanted_id = halo_id(record)
        found: list[int] = []
        for index in answered.for_record(record, wanted_id):
            verdict = agrees(resource, record, answer[index])
            if verdict is True or (wanted_id is not None and verdict is not False):
                found.append(index)
                claims[index] = claims.get(index, 0) + 1
        candidates.append(found)
    return [answer[found[0]] if len(found) == 1 and claims[found[0]] == 1 else None for found in candidates]


class _Candidates:
    """The answered records (those with an id) by id and by key, to find which could be a sent record.

    Sound by construction: an update can only be a record of its id; a create can only agree with a record
    whose key is ``_same`` as its own, i.e. equal as a key (trimmed, case-folded) or as a number, so both
    spellings are indexed; a record answered without its key is a candidate for every create.
    """

    def __init__(self, resource: str, answer: Sequence[Mapping[str, Any]]) -> None:
        row = RESOURCES.get(resource)
        self.key_field = row.key_field if row is not None else ""
        self.with_id: list[int] = []
        self.by_id: dict[int, list[int]] = {}
        self.by_key: dict[str, list[int]] = {}
        self.by_number: dict[Decimal, list[int]] = {}
        self.keyless: list[int] = []
        # A key as compared (normalised, and as a number), worked out once per text: the sent records'
        # keys are mostly the answered ones, echoed.
        self._spelled: dict[str, tuple[str, Decimal | None]] = {}
        for index, record in enumerate(answer):
            record_id = halo_id(record)
            if record_id is None:
                continue
            self.with_id.append(index)
            self.by_id.setdefault(record_id, []).append(index)
            key = record.get(self.key_field) if self.key_field else None
            if not _present(key):
                self.keyless.append(index)
                continue
            normalised, number = self._spelling(key)
            self.by_key.setdefault(normalised, []).append(index)
            if number is not None:
                self.by_number.setdefault(number, []).append(index)

    def _spelling(self, key: object) -> tuple[str, Decimal | None]:
        """``key`` normalised and as a number; remembered for text only (1, 1.0 and True are equal keys
        of a dict, though not the same key here)."""
        if type(key) is not str:
            return normalise_key(key), _number(key)
        try:
            return self._spelled[key]
        except KeyError:
            spelled = self._spelled[key] = (normalise_key(key), _number(key))
            return spelled

    def for_record(self, record: Mapping[str, Any], wanted_id: int | None) -> list[int]:
        """The answered records that could be ``record``, in the answer's order."""
        if wanted_id is not None:
            return self.by_id.get(wanted_id, [])
        key = record.get(self.key_field) if self.key_field else None
        if not _present(key):
            return self.with_id
        normalised, number = self._spelling(key)
        by_key = self.by_key.get(normalised, [])
        by_number = self.by_number.get(number, []) if number is not None else []
        if not self.keyless and (not by_number or by_number == by_key):
            return by_key  # each list is in the answer's order, without repeats: it is the union
        if not by_key and not by_number:
            return self.keyless
        return sorted({*by_key, *by_number, *self.keyless})


# No number's text starts with these (only a sign, a digit, ".", "_", or inf/infinity, nan, snan may):
# answered right away, as most account keys ("C0001400") are, not by Decimal's failing.
_NOT_A_NUMBER_START = frozenset("abcdefghjklmopqrtuvwxyzABCDEFGHJKLMOPQRTUVWXYZ")


def _number(value: object) -> Decimal | None:
    """A key as the number ``_same`` would compare (None: not a number, or NaN, which equals nothing)."""
    text = str(value).strip()
    if text[:1] in _NOT_A_NUMBER_START:
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return None if number.is_nan() else number

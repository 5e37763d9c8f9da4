"""The types an entity is declared with: one spec per entity (and per direction), read by the engine.

Why: an entity's facts (its stream, what it depends on, its record type, the Halo resource it becomes, how a
record is matched to what Halo holds, which way it flows) were spread over a dozen tables of the engine.
A spec states them once, next to the entity's planner (sync/entities/); the engine only iterates specs.
Plain data and callables only: this module imports nothing of the project, so every package may read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

# books -> Halo today; Halo -> books (a later issue) is a new spec with a connector writer, not a new engine.
# The links table stores the same word in its `direction` column.
Direction = Literal["to_halo", "to_books"]
TO_HALO: Direction = "to_halo"
TO_BOOKS: Direction = "to_books"

# How names are compared before two records count as one: "company" drops case, accents, punctuation and a
# trailing legal form ("Acme Ltd" is "acme"; sync.matching.normalise_name); "" matches by key only.
NameFolding = Literal["", "company"]

PlannerT = TypeVar("PlannerT")
RunT = TypeVar("RunT")


@dataclass(frozen=True)
class MatchRules:
    """How an unlinked record finds its twin in Halo: by key, then the user's mapping, then by name."""

    by_key: bool = True  # a Halo record carrying the books' key (accountsid and its kin)
    mapping: str = ""  # the mapping kind a person may have set ("customer", "tax"); "" none
    name_folding: NameFolding = ""  # "" : never by name
    # What to do when several Halo records share the name ({key} is the books' key).
    ambiguous_action: str = ""


@dataclass(frozen=True)
class EntitySpec(Generic[RunT, PlannerT]):
    """One entity in one direction, declared once.

    ``name`` is the link entity (the state store's word) and, for an entity read on its own, the
    connector's stream. ``rides_with`` names the entity whose records carry this one's (a customer's main
    site, an invoice's payments): such a spec has no stream and no planner of its own. ``planner`` makes,
    per run and given the spec, the object that plans this entity's records (its hooks: ``plan``,
    ``match``, ``settled``).
    """

    name: str
    record_type: type
    resource: str  # the Halo resource (a row of halo.resources.RESOURCES)
    payload: Callable[..., dict[str, Any]]  # record -> Halo JSON (halo.payloads)
    match: MatchRules = MatchRules()
    depends_on: tuple[str, ...] = ()  # entities whose Halo ids this one's payload refers to
    rides_with: str = ""
    direction: Direction = TO_HALO
    planner: Callable[[RunT, EntitySpec[RunT, PlannerT]], PlannerT] | None = None

    @property
    def is_stream(self) -> bool:
        """Read from the connector as a stream of its own (not carried by another entity's records)."""
        return not self.rides_with

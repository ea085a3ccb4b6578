"""How orders join into customers (pure: no I/O).

A customer is found by any of its identities: an account id, a normalised email, a
normalised phone. Each identity belongs to one customer. An order's identities attach to
the customer already holding one of them, else to a new customer; by these rules:

- the order's account id decides first: the customer holding it is the order's;
- an account id nobody holds goes to the customer holding the order's email (else phone)
  if that customer has no account yet (a guest who signed up), else to a new customer:
  two accounts are never joined silently;
- without an account id, the holder of the email, else of the phone, is the order's;
- identities nobody holds go to the order's customer; identities other customers hold
  stay theirs. Those other customers are reported as possible duplicates, for a person to
  merge explicitly (``merge``), never merged here.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts import rules as contact_rules
from atp.model import InvalidInput
from atp.validate import check_id


class Kind(enum.StrEnum):
    id = "id"
    email = "email"
    phone = "phone"


# The order in which an order's identities decide its customer.
PRECEDENCE = (Kind.id, Kind.email, Kind.phone)


@dataclass(frozen=True, order=True)
class Identity:
    kind: Kind
    value: str


def _renamed(field: str, exc: InvalidInput) -> InvalidInput:
    return InvalidInput(field, exc.message)


def normal_email(text: str, field: str = "email") -> str:
    try:
        return contact_rules.email(text)
    except InvalidInput as exc:
        raise _renamed(field, exc) from None


def normal_phone(text: str, field: str = "phone") -> str:
    try:
        return contact_rules.phone(text)
    except InvalidInput as exc:
        raise _renamed(field, exc) from None


def identities(
    customer_id: str | None, email: str | None, phone: str | None
) -> tuple[Identity, ...]:
    """An order's identities, normalised, in precedence order (raises InvalidInput naming
    ``customer_id``, ``email`` or ``phone``)."""
    found: list[Identity] = []
    if customer_id is not None:
        found.append(Identity(Kind.id, check_id("customer_id", customer_id)))
    if email is not None:
        found.append(Identity(Kind.email, normal_email(email)))
    if phone is not None:
        found.append(Identity(Kind.phone, normal_phone(phone)))
    return tuple(found)


@dataclass(frozen=True)
class Attach:
    """What attaching one order's identities does."""

    customer: str | None  # the order's customer; None: a new one
    claim: tuple[Identity, ...]  # identities nobody held, now the order's customer's
    others: frozenset[str]  # other customers holding some of them: possible duplicates


def plan(
    wanted: Iterable[Identity],
    holders: Mapping[Identity, str],
    has_account: Mapping[str, bool],
) -> Attach:
    """Where an order with identities ``wanted`` goes, given who holds which identity
    (each holder already its survivor) and whether each holder has an account id."""
    ordered = sorted(set(wanted), key=lambda i: PRECEDENCE.index(i.kind))
    held = [i for i in ordered if i in holders]
    unheld = tuple(i for i in ordered if i not in holders)
    account = next((i for i in ordered if i.kind is Kind.id), None)
    customer: str | None
    if account is not None and account in holders:
        customer = holders[account]
    elif account is not None:
        guests = [holders[i] for i in held if not has_account.get(holders[i], False)]
        customer = guests[0] if guests else None
    else:
        customer = holders[held[0]] if held else None
    others = frozenset(holders[i] for i in held) - {customer}
    return Attach(customer, unheld, frozenset(c for c in others if c is not None))


class MergeOutcome(enum.Enum):
    merge = "merge"  # move the other's identities to the survivor
    already = "already"  # done before: answer as then (idempotent)


def check_merge(survivor: str, other: str, root_of: Mapping[str, str]) -> MergeOutcome:
    """Whether ``other`` may merge into ``survivor`` (ids already known to exist;
    ``root_of`` maps each to the customer it answers as). Raises InvalidInput naming
    ``other`` when it may not."""
    if survivor == other:
        raise InvalidInput("other", "a customer cannot merge into itself")
    if root_of[other] == root_of[survivor]:
        return MergeOutcome.already
    if root_of[survivor] != survivor:
        raise InvalidInput(
            "id", f"{survivor} was merged into {root_of[survivor]}: merge into that one"
        )
    if root_of[other] != other:
        raise InvalidInput("other", f"{other} was merged into {root_of[other]}: merge that one")
    return MergeOutcome.merge


class UnionFind:
    """Which records share identities, transitively (for the backfill's report of
    candidates and for tests: joining by shared identity is this closure)."""

    def __init__(self) -> None:
        self._parent: dict[Identity, Identity] = {}

    def find(self, item: Identity) -> Identity:
        self._parent.setdefault(item, item)
        root = item
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[item] != root:  # path compression
            self._parent[item], item = root, self._parent[item]
        return root

    def union(self, items: Iterable[Identity]) -> None:
        first: Identity | None = None
        for item in items:
            if first is None:
                first = self.find(item)
            else:
                self._parent[self.find(item)] = first
                first = self.find(first)

    def groups(self) -> list[frozenset[Identity]]:
        by_root: dict[Identity, set[Identity]] = {}
        for item in list(self._parent):
            by_root.setdefault(self.find(item), set()).add(item)
        return sorted((frozenset(g) for g in by_root.values()), key=lambda g: min(g))

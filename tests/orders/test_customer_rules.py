"""The pure rules joining orders into customers (orders/customer_rules.py)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atp.model import InvalidInput
from orders.customer_rules import (
    Identity,
    Kind,
    MergeOutcome,
    UnionFind,
    check_merge,
    identities,
    plan,
)

ID1, ID2 = Identity(Kind.id, "c-1"), Identity(Kind.id, "c-2")
MAIL = Identity(Kind.email, "kari@example.no")
PHONE = Identity(Kind.phone, "+4791234567")


def test_identities_are_normalised_in_precedence_order() -> None:
    found = identities("c-1", " Kari@Example.NO ", "+47 912 34 567")
    assert found == (ID1, MAIL, PHONE)
    assert identities(None, None, None) == ()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("bad id!", None, None), "customer_id"),
        ((None, "not-an-address", None), "email"),
        ((None, None, "912 34 567"), "phone"),
    ],
)
def test_bad_identities_name_their_field(args: tuple[str | None, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        identities(*args)
    assert caught.value.field == field


def test_nobody_holds_any_so_a_new_customer_takes_all() -> None:
    decided = plan([MAIL, PHONE], {}, {})
    assert decided.customer is None and decided.claim == (MAIL, PHONE) and not decided.others


def test_the_holder_of_one_takes_the_rest() -> None:
    decided = plan([MAIL, PHONE], {PHONE: "x"}, {"x": False})
    assert (decided.customer, decided.claim, decided.others) == ("x", (MAIL,), frozenset())


def test_a_guest_takes_on_an_account() -> None:
    decided = plan([ID1, MAIL], {MAIL: "guest"}, {"guest": False})
    assert decided.customer == "guest" and decided.claim == (ID1,)


def test_two_accounts_never_join_silently() -> None:
    decided = plan([ID2, MAIL], {MAIL: "a"}, {"a": True})
    assert decided.customer is None and decided.claim == (ID2,)
    assert decided.others == frozenset({"a"})


def test_conflicting_holders_are_reported_not_merged() -> None:
    # the email first came with c-1, the phone with c-2; an order gives both
    decided = plan([MAIL, PHONE], {MAIL: "a", PHONE: "b"}, {"a": True, "b": True})
    assert decided.customer == "a" and decided.claim == () and decided.others == {"b"}


def test_the_account_decides_over_the_email() -> None:
    decided = plan([ID2, MAIL], {ID2: "b", MAIL: "a"}, {"a": True, "b": True})
    assert decided.customer == "b" and decided.others == {"a"}


def test_merge_rules() -> None:
    roots = {"a": "a", "b": "b", "c": "a", "d": "b"}
    assert check_merge("a", "b", roots) is MergeOutcome.merge
    assert check_merge("a", "c", roots) is MergeOutcome.already
    with pytest.raises(InvalidInput) as caught:
        check_merge("a", "a", roots)
    assert caught.value.field == "other"
    with pytest.raises(InvalidInput) as caught:
        check_merge("c", "b", roots)
    assert caught.value.field == "id"
    with pytest.raises(InvalidInput) as caught:
        check_merge("a", "d", roots)
    assert caught.value.field == "other"


# -- properties, over a simulated book of customers ------------------------------------

_IDENTS = st.one_of(
    st.sampled_from(["c-1", "c-2", "c-3"]).map(lambda v: Identity(Kind.id, v)),
    st.sampled_from(["a@x.no", "b@x.no", "c@x.no"]).map(lambda v: Identity(Kind.email, v)),
    st.sampled_from(["+4711111111", "+4722222222"]).map(lambda v: Identity(Kind.phone, v)),
)


@st.composite
def _order(draw: st.DrawFn) -> list[Identity]:
    """An order: at most one of each kind."""
    chosen = draw(st.lists(_IDENTS, max_size=3))
    by_kind = {i.kind: i for i in chosen}
    return list(by_kind.values())


class Book:
    """The service's tables in memory: identity -> customer."""

    def __init__(self) -> None:
        self.holders: dict[Identity, str] = {}
        self.names = (f"n{i}" for i in itertools.count())

    def accounts(self) -> dict[str, bool]:
        has: dict[str, bool] = {}
        for ident, customer in self.holders.items():
            has[customer] = has.get(customer, False) or ident.kind is Kind.id
        return has

    def attach(self, wanted: list[Identity]) -> str | None:
        if not wanted:
            return None
        decided = plan(wanted, self.holders, self.accounts())
        customer = decided.customer or next(self.names)
        for ident in decided.claim:
            assert ident not in self.holders  # never takes another's identity
            self.holders[ident] = customer
        return customer


@given(st.lists(_order(), max_size=12))
def test_every_identity_has_one_holder_and_no_one_two_accounts(
    orders: list[list[Identity]],
) -> None:
    book = Book()
    for wanted in orders:
        customer = book.attach(wanted)
        if wanted:
            # the order is in its customer's history: it holds one of the order's identities
            assert any(book.holders[i] == customer for i in wanted)
            # every identity of the order is now held by someone
            assert all(i in book.holders for i in wanted)
    accounts: dict[str, int] = {}
    for ident, customer in book.holders.items():
        accounts[customer] = accounts.get(customer, 0) + (ident.kind is Kind.id)
    assert all(n <= 1 for n in accounts.values())


@given(st.lists(_order(), max_size=12))
def test_attaching_again_changes_nothing(orders: list[list[Identity]]) -> None:
    book = Book()
    first = [book.attach(w) for w in orders]
    before = dict(book.holders)
    again = [book.attach(w) for w in orders]
    assert book.holders == before
    # an order without conflicts goes to the same customer again
    for wanted, a, b in zip(orders, first, again, strict=True):
        if len({book.holders[i] for i in wanted}) == 1:
            assert a == b


@given(st.lists(_order(), max_size=12))
def test_customers_never_span_more_than_shared_identities_join(
    orders: list[list[Identity]],
) -> None:
    """A customer's identities are always connected through orders (the union-find
    closure): nothing joins records that share no identity."""
    book, joined = Book(), UnionFind()
    for wanted in orders:
        book.attach(wanted)
        joined.union(wanted)
    by_customer: dict[str, set[Identity]] = {}
    for ident, customer in book.holders.items():
        by_customer.setdefault(customer, set()).add(ident)
    for held in by_customer.values():
        assert len({joined.find(i) for i in held}) == 1


def test_union_find_groups() -> None:
    joined = UnionFind()
    joined.union([ID1, MAIL])
    joined.union([PHONE])
    joined.union([MAIL, PHONE])
    joined.union([ID2])
    assert joined.groups() == [frozenset({ID1, MAIL, PHONE}), frozenset({ID2})]

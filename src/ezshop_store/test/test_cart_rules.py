"""Cart and receipt math in cents and checkout timing rules, pure Python."""

from ezshop_store import cart_rules as rules
from ezshop_store.cart_rules import Line, VisitSpan


def test_lines_and_total_in_integer_cents():
    lines = rules.cart_lines({'cola': 3, 'chips': 1, 'water': 0},
                             {'cola': 'Cola', 'chips': 'Chips'}, {'cola': 150, 'chips': 229})
    assert lines == [Line('chips', 'Chips', 1, 229), Line('cola', 'Cola', 3, 150)]
    assert [ln.total_cents for ln in lines] == [229, 450]
    assert rules.total_cents(lines) == 679
    assert isinstance(rules.total_cents(lines), int)


def test_empty_cart_is_a_zero_total():
    assert rules.cart_lines({}, {}, {}) == []
    assert rules.total_cents([]) == 0


def test_put_back_credits_only_what_is_held():
    assert rules.apply_to_cart(2, +1) == (1, 0)
    assert rules.apply_to_cart(2, -1) == (-1, 0)
    assert rules.apply_to_cart(1, -3) == (-1, -2)
    assert rules.apply_to_cart(0, -1) == (0, -1)


def test_action_stamped_before_exit_lands_in_the_exiting_visit():
    exiting = VisitSpan(1, 100, 500, rules.VISIT_EXITING)
    assert rules.place_cart_action(450, exiting) == (rules.PLACE_CART, exiting)
    assert rules.place_cart_action(600, exiting)[0] == rules.PLACE_NOT_IN_STORE
    assert rules.place_cart_action(50, exiting)[0] == rules.PLACE_NOT_IN_STORE


def test_action_for_a_closed_visit_is_an_adjustment():
    closed = VisitSpan(1, 100, 500, rules.VISIT_CLOSED)
    current = VisitSpan(2, 900, None, rules.VISIT_OPEN)
    assert rules.place_cart_action(300, current, [closed]) == (rules.PLACE_ADJUSTMENT, closed)
    assert rules.place_cart_action(950, current, [closed]) == (rules.PLACE_CART, current)
    assert rules.place_cart_action(700, current, [closed])[0] == rules.PLACE_NOT_IN_STORE


def test_no_visit_means_not_in_store():
    assert rules.place_cart_action(10, None) == (rules.PLACE_NOT_IN_STORE, None)


def test_checkout_waits_for_the_grace_period():
    due = rules.checkout_due_ns(1_000, 2_000)
    assert due == 3_000
    assert rules.due_visits({7: due, 8: 10_000}, 2_999) == []
    assert rules.due_visits({7: due, 8: 10_000}, 3_000) == [7]
    assert rules.due_visits({7: due, 8: 1_000}, 20_000) == [8, 7]


def test_stock_never_goes_negative_silently():
    assert rules.stock_after(3, -2) == (1, 0)
    assert rules.stock_after(1, -3) == (0, 2)
    assert rules.stock_after(0, +2) == (2, 0)
    assert rules.crosses_low_stock(5, 4, 4)
    assert not rules.crosses_low_stock(4, 3, 4)

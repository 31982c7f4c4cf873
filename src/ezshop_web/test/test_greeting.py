"""What the greeter says, once per event and receipt."""

from ezshop_web.greeting import GOODBYE, WELCOME, Greeter


def receipt(receipt_id='r1', revision=1, total=489, currency='EUR', customer='c1', name='Ana'):
    return {'receipt_id': receipt_id, 'revision': revision, 'customer_id': customer,
            'customer_name': name, 'total_cents': total, 'currency': currency,
            'exited_at': 12.5}


def entered(event_id='e1', customer='c1', kind='entered'):
    return {'event_id': event_id, 'kind': kind, 'customer_id': customer, 'stamp': 3.0}


def test_an_entrance_pass_is_welcomed_by_name_once():
    greeter = Greeter()
    greeter.names = {'c1': 'Ana'}
    greeting = greeter.on_customer_event(entered())
    assert (greeting.kind, greeting.text, greeting.stamp) == (WELCOME, 'Welcome, Ana!', 3.0)
    assert greeter.on_customer_event(entered()) is None              # the same event again
    assert greeter.on_customer_event(entered('e2', kind='exited')) is None
    assert greeter.on_customer_event(entered('e3', kind='seen')) is None  # no door pass
    assert greeter.on_customer_event(entered('e4', customer='c9')).text == 'Welcome!'


def test_the_first_receipt_of_a_visit_says_goodbye_with_the_total():
    greeter = Greeter()
    greeter.names = {'c1': 'Ana'}
    greeting = greeter.on_receipt(receipt())
    assert (greeting.kind, greeting.text) == (GOODBYE, 'Goodbye Ana, your total is 4.89 euros.')
    assert greeter.on_receipt(receipt()) is None                     # delivered twice
    assert greeter.on_receipt(receipt(revision=2)) is None           # a staff adjustment
    assert greeter.on_receipt(receipt('r2', total=0)).text == \
        'Goodbye Ana, nothing was charged. See you soon!'
    assert greeter.on_receipt(receipt('r3', customer='c7', name='', currency='SEK',
                                      total=1250)).text == 'Goodbye, your total is 12.50 SEK.'


def test_input_that_cannot_be_a_customer_s_is_refused_with_the_reason():
    greeter = Greeter()
    # Before the gallery came, any enrolled-looking id may be welcomed; after, only customers.
    assert greeter.check_event(entered(customer='c9')) == ''
    greeter.names = {'c1': 'Ana'}
    assert greeter.check_event(entered()) == ''
    assert 'not an enrolled customer' in greeter.check_event(entered(customer='c9'))
    assert greeter.check_event(entered(customer='c9', kind='exited')) == ''  # said nothing
    assert 'customer_id is longer' in greeter.check_event(entered(customer='c' * 65))
    assert 'event_id is longer' in greeter.check_event(entered(event_id='e' * 65))
    assert greeter.check_receipt(receipt()) == ''
    assert 'customer_id is longer' in greeter.check_receipt(receipt(customer='c' * 65))
    assert 'total -5 cents' in greeter.check_receipt(receipt(total=-5))
    assert 'revision 0' in greeter.check_receipt(receipt(revision=0))

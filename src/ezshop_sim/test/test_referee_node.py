"""The referee node over real DDS: messages in, counts and printed lines out (no store graph;
the test publishes what the simulator, fusion, doors and store would)."""

import dataclasses

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.parameter import Parameter

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import CartAction, CartLine, CustomerEvent, GroundTruth, Receipt
from ezshop_msgs.srv import ForgetCustomer
from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.stamps import NS_PER_S, time_from_ns
from ezshop_ros.topics import CART_ACTIONS, CUSTOMER_EVENTS, GROUND_TRUTH, RECEIPTS
from ezshop_sim.referee_node import EXIT_OK, EXIT_WRONG, RefereeNode

T0_NS = 1_700_000_000 * NS_PER_S


def at(t: float) -> Time:
    """A stamp t seconds into the scenario on the simulator's clock."""
    return time_from_ns(T0_NS + int(round(t * NS_PER_S)))


def truth(kind, t, shopper='', item_id='', quantity=0):
    msg = GroundTruth(kind=kind, shopper=shopper, enrolled=bool(shopper), item_id=item_id,
                      quantity=quantity, shelf_id='shelf_a' if item_id else '',
                      lane_id='lane_1' if item_id else '')
    msg.header.stamp = at(t)
    return msg


def cart_action(event_id, customer_id, t, resolves=''):
    msg = CartAction(event_id=event_id, customer_id=customer_id, item_id='cola', quantity=1,
                     confidence=0.9, shelf_id='shelf_a', lane_id='lane_1',
                     resolves_event_id=resolves)
    msg.header.stamp = at(t)
    return msg


def customer_event(event_id, kind, customer_id, t, door_id='', camera_id=''):
    msg = CustomerEvent(event_id=event_id, kind=kind, customer_id=customer_id, door_id=door_id,
                        camera_id=camera_id, confidence=0.9)
    msg.header.stamp = at(t)
    return msg


def test_referee_node_counts_cart_level_errors_and_presence_events(ros, capsys, tmp_path):
    node = ros.add(RefereeNode(context=ros.context, parameter_overrides=[
        Parameter('scenario', value='one_shopper'),
        Parameter('fail_on_wrong', value=True),
        Parameter('results_file', value=str(tmp_path / 'results.json'))]))
    assert node.cfg.receipt_wait_s == 75.0
    node.referee.enrolled_ids.update({'id-ada': 'ada', 'id-bob': 'bob'})
    node.watch()
    probe = ros.node('referee_probe')
    pubs = {'truth': GROUND_TRUTH.publisher(probe), 'cart': CART_ACTIONS.publisher(probe),
            'customer': CUSTOMER_EVENTS.publisher(probe), 'receipt': RECEIPTS.publisher(probe)}
    assert ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()),
                          10.0)

    for msg in (truth(GroundTruth.ENTERED, 1.0, 'ada'), truth(GroundTruth.ENTERED, 2.0, 'bob'),
                truth(GroundTruth.TAKE, 10.0, 'ada', 'cola', 1),
                truth(GroundTruth.EXITED, 30.0, 'ada'), truth(GroundTruth.SCENARIO_DONE, 32.0)):
        pubs['truth'].publish(msg)
    # ada's cola: held, then resolved late to bob (wrong); bob was never seen at the door.
    pubs['cart'].publish(cart_action('e1', '', 10.08))
    pubs['cart'].publish(cart_action('e1', 'id-bob', 10.08, resolves='e1'))
    pubs['customer'].publish(customer_event('c1', CustomerEvent.ENTERED, 'id-ada', 1.2,
                                            door_id='entrance', camera_id='cam_entrance'))
    pubs['customer'].publish(customer_event('c2', CustomerEvent.SEEN, 'id-bob', 6.0,
                                            camera_id='cam_shelf_a'))
    pubs['customer'].publish(customer_event('c3', CustomerEvent.ABSENT, 'id-ada', 29.0,
                                            camera_id='cam_exit'))
    receipt = Receipt(receipt_id='1', revision=1, visit_id='v1', customer_id='id-ada',
                      customer_name='ada', total_cents=0, currency='EUR',
                      opened_by=Receipt.OPENED_AT_ENTRANCE, ended_by=Receipt.ENDED_ABSENT)
    pubs['receipt'].publish(receipt)
    referee = node.referee
    assert ros.spin_until(lambda: referee.finished() and len(referee.cart_actions) == 2
                          and len(referee.customer_event_ids) == 3, 10.0)

    assert node.verdict() == EXIT_WRONG
    out = capsys.readouterr().out
    assert 'cart      NOBODY +1 cola (confidence 0.90) HELD' in out
    assert 'cart      bob +1 cola (resolves e1) (confidence 0.90)' in out
    assert 'presence  bob seen in the store at cam_shelf_a: late entry' in out
    assert 'presence  ada not seen for a while (last at cam_exit): absent, visit closed' in out
    assert 'receipt   ada: 0.00 EUR (0 lines, revision 1, ended absent)' in out
    assert 'wrong-person units: 0 on receipts, 1 on carts' in out
    assert 'missed door passes: 2 (bob entered, ada exited); late entries: 1; ' \
           'absent checkouts: 1; held actions: 1 (late resolutions: 1, still held: 0)' in out
    assert 'VERDICT: SOME RECEIPTS WRONG' in out  # ada's cola is on nobody's receipt
    report = referee.report()
    assert report['wrong_person_units_cart'] == 1 and report['missed_door_passes'] == 2
    assert report['truth_exit_to_receipt']['count'] == 1

    # The right receipt: only the cart-level error remains.
    pubs['receipt'].publish(Receipt(
        receipt_id='1', revision=2, visit_id='v1', customer_id='id-ada', customer_name='ada',
        total_cents=150, currency='EUR', lines=[CartLine(item_id='cola', quantity=1)],
        ended_by=Receipt.ENDED_ABSENT))
    assert ros.spin_until(lambda: referee.report()['receipts_right'] == 1, 10.0)
    assert node.verdict() == EXIT_WRONG
    assert 'VERDICT: RECEIPTS RIGHT, BUT 1 UNITS WENT TO THE WRONG CART' in \
        capsys.readouterr().out
    node.cfg = dataclasses.replace(node.cfg, fail_on_wrong=False)
    assert node.verdict() == EXIT_OK


def test_customers_left_from_an_earlier_run_are_forgotten_before_enrolling(ros, capsys):
    """The referee reads the store's gallery (ids and names) once and forgets the scenario's
    shoppers it finds there; nobody else."""
    node = ros.add(RefereeNode(context=ros.context, parameter_overrides=[
        Parameter('scenario', value='one_shopper'), Parameter('service_timeout_s', value=10.0)]))
    store = ros.node('store_stand_in')
    embeddings = np.ones((1, 4), np.float32)
    entries = [GalleryEntry('c_old_ada', 'ada', 4, 'test_model', embeddings),
               GalleryEntry('c_zoe', 'zoe', 4, 'test_model', embeddings)]
    GalleryServer(store, EntryList(entries))
    forgotten = []

    def forget(request, response):
        forgotten.append(request.customer_id)
        response.success = True
        return response
    store.create_service(ForgetCustomer, 'forget_customer', forget)

    node._forget_stale(ros.executor, {'ada', 'bob'})
    assert forgotten == ['c_old_ada']
    assert 'forgot 1 customers left from an earlier run' in capsys.readouterr().out
    # The gallery was read once, by a node of its own that is gone.
    assert 'referee_gallery' not in [n.get_name() for n in ros.executor.get_nodes()]

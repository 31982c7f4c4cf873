"""store_node + fusion_node over real DDS: one graph per database backend for the module,
every test with its own customers and its own stretch of time (so they do not interfere)."""

import uuid

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.parameter import Parameter
from sensor_msgs.msg import RegionOfInterest

from ezshop_msgs.msg import (
    Cart,
    CartAction,
    CustomerEvent,
    FaceArray,
    FaceDetection,
    Receipt,
    ShelfEvent,
    TrackIdentity,
)
from ezshop_msgs.srv import (
    Checkout,
    ForgetCustomer,
    GetCart,
    GetGallery,
    GetReviewQueue,
    RegisterCustomer,
    ResolveAction,
    SetStock,
)
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import (
    ALERTS,
    CART_ACTIONS,
    CARTS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    FACES,
    GALLERY_REVISION,
    INVENTORY,
    RECEIPTS,
    SHELF_EVENTS,
    STORE_MARKERS,
    TRACK_IDENTITIES,
)
from ezshop_store.fusion_node import FusionNode
from ezshop_store.store_node import StoreNode
from ezshop_testing.ros import RosHarness

S = 1_000_000_000
#: Each test's events get a slot 5 s after the previous test's, so the stamps run ahead of the
#: clock as the module goes on: the nodes accept any skew (the guard is tested on its own).
SYNTHETIC_TIMELINE = Parameter('max_clock_skew_s', value=3600.0)
WINDOW_AFTER = 0.4
TIMEOUT = 10.0


class Probe:
    """The test's side of the graph: publishers of the inputs, recorders of the outputs."""

    def __init__(self, ros: RosHarness):
        self.ros = ros
        node = self.node = ros.node('store_probe')
        self.customer_events = CUSTOMER_EVENTS.publisher(node)
        self.shelf_events = SHELF_EVENTS.publisher(node)
        self.cart_actions = CART_ACTIONS.publisher(node)
        self.faces = {cam: FACES.publisher(node, camera=cam)
                      for cam in ('cam_shelf_a', 'cam_shelf_b')}
        self.track_identities = TRACK_IDENTITIES.publisher(node)
        outputs = {'actions': CART_ACTIONS, 'carts': CARTS, 'receipts': RECEIPTS,
                   'alerts': ALERTS, 'revisions': GALLERY_REVISION, 'inventory': INVENTORY,
                   'diagnostics': DIAGNOSTICS, 'markers': STORE_MARKERS}
        self.got = {key: [] for key in outputs}
        for key, topic in outputs.items():
            topic.subscription(node, self.got[key].append)
        self.got['gallery'] = []  # whole galleries, as a face node fetches them
        GalleryClient(node, WholeGallery(self.got['gallery'].append), with_embeddings=True)
        self.clients = {name: node.create_client(kind, name) for name, kind in (
            ('register_customer', RegisterCustomer), ('forget_customer', ForgetCustomer),
            ('get_cart', GetCart), ('checkout', Checkout), ('set_stock', SetStock),
            ('resolve_action', ResolveAction), ('get_review_queue', GetReviewQueue),
            ('get_gallery', GetGallery))}
        self.next_t = 0

    def wait_connected(self):
        pubs = [self.customer_events, self.shelf_events, self.cart_actions,
                self.track_identities, *self.faces.values()]
        assert self.ros.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in pubs)
                                   and self.node.count_publishers('receipts') >= 1, TIMEOUT)

    def slot(self) -> int:  # (runs ahead of the clock: see SYNTHETIC_TIMELINE)
        """A stamp (ns) for this test's events, 5 s after any earlier test's."""
        now = self.node.get_clock().now().nanoseconds
        self.next_t = max(now, self.next_t) + 5 * S
        return self.next_t - 4 * S

    def call(self, service, **fields):
        client = self.clients[service]
        request = client.srv_type.Request(**fields)
        return self.ros.call(client, request)

    def register(self, name):
        embeddings = np.random.default_rng(len(name)).normal(size=128).astype(np.float32)
        response = self.call('register_customer', name=name, embeddings=embeddings.tolist(),
                             dim=128, model='test_model')
        assert response.success, response.message
        return response.customer_id

    def customer_event(self, kind, customer_id, t, event_id=None, door_id='entrance'):
        msg = CustomerEvent(event_id=event_id or str(uuid.uuid4()), kind=kind,
                            customer_id=customer_id, door_id=door_id, confidence=1.0)
        msg.header.stamp = time_from_ns(t)
        self.customer_events.publish(msg)

    def enter(self, customer_id, t):
        """ENTERED, then wait until the store shows the open visit (its empty cart)."""
        self.customer_event(CustomerEvent.ENTERED, customer_id, t)
        self.wait_for('carts', lambda c: c.customer_id == customer_id and c.visit_id != '')

    def held_pick(self, name, item):
        """A shopper in the store and a take of `item` fusion could not attribute, held for
        staff: (customer_id, its stamp, the held action's event_id)."""
        customer_id = self.register(name)
        t = self.slot()
        self.enter(customer_id, t - S)
        held = self.cart_action('', item, 1, t)
        self.wait_for('alerts', lambda a: a.kind == 'held_for_staff' and held in a.refs)
        return customer_id, t, held

    def shelf_event(self, shelf, lane, item, delta, t, event_id=None):
        msg = ShelfEvent(event_id=event_id or str(uuid.uuid4()), shelf_id=shelf, lane_id=lane,
                         item_id=item, quantity_delta=delta, count_before=5,
                         count_after=5 + delta, confidence=1.0)
        msg.header.stamp = time_from_ns(t)
        self.shelf_events.publish(msg)
        return msg.event_id

    def cart_action(self, customer_id, item, qty, t, event_id=None):
        msg = CartAction(event_id=event_id or str(uuid.uuid4()), customer_id=customer_id,
                         item_id=item, quantity=qty, confidence=1.0)
        msg.header.stamp = time_from_ns(t)
        self.cart_actions.publish(msg)
        return msg.event_id

    def frames(self, cam, t, people):
        """Frames at 15 Hz over [t - 1 s, t + window_after_s + 0.1 s]; people: [(track, id, x)]."""
        stamp = t - S
        while stamp <= t + int((WINDOW_AFTER + 0.1) * S):
            msg = FaceArray(camera_id=cam, faces=[FaceDetection(
                track_id=track, customer_id=cid, confidence=1.0 if cid else 0.0,
                roi=RegionOfInterest(x_offset=x - 40, y_offset=160, width=80, height=80))
                for track, cid, x in people])
            msg.header.stamp = time_from_ns(stamp)
            self.faces[cam].publish(msg)
            stamp += S // 15

    def wait_for(self, key, predicate, timeout=TIMEOUT):
        found = []

        def check():
            found[:] = [m for m in self.got[key] if predicate(m)]
            return bool(found)
        assert self.ros.spin_until(check, timeout), f'no matching {key} within {timeout} s'
        return found

    def counter(self, node_name, key):
        """The newest value of a /diagnostics counter of a node (0 when absent)."""
        for array in reversed(self.got['diagnostics']):
            for status in array.status:
                if status.name.startswith(f'{node_name}:'):
                    return next((int(kv.value) for kv in status.values if kv.key == key), 0)
        return 0

    def receipt(self, customer_id, revision=1):
        return self.wait_for('receipts', lambda r: r.customer_id == customer_id
                             and r.revision == revision)[-1]


@pytest.fixture(scope='module', params=['sqlite', pytest.param('postgres',
                                                               marks=pytest.mark.postgres)])
def graph(request, tmp_path_factory, config_dir):
    """store_node + fusion_node in one private context, plus the test's probe."""
    if request.param == 'sqlite':
        url = f'sqlite:///{tmp_path_factory.mktemp("store") / "store.db"}'
        context = None
    else:
        from ezshop_testing.scratch_db import postgres_schema, postgres_unavailable_reason
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
        context = postgres_schema()
        url = context.__enter__()
    ros = RosHarness()
    store_file = str(config_dir / 'store.yaml')
    ros.add(StoreNode(context=ros.context, parameter_overrides=[
        Parameter('database_url', value=url), Parameter('store_file', value=store_file),
        Parameter('checkout_grace_s', value=0.3),
        Parameter('diagnostic_updater.period', value=0.2), SYNTHETIC_TIMELINE]))
    ros.add(FusionNode(context=ros.context, parameter_overrides=[
        SYNTHETIC_TIMELINE,
        Parameter('store_file', value=store_file), Parameter('window_before_s', value=1.0),
        Parameter('window_after_s', value=WINDOW_AFTER),
        Parameter('decision_timeout_s', value=0.5)]))
    probe = Probe(ros)
    probe.wait_connected()
    yield probe
    ros.close()
    if context is not None:
        context.__exit__(None, None, None)


def lines_of(msg):
    return [(ln.item_id, ln.quantity, ln.unit_price_cents, ln.line_total_cents)
            for ln in msg.lines]


def test_the_gallery_is_served_not_broadcast(graph):
    alice = graph.register('Gallery Alice')
    (gallery,) = graph.wait_for('gallery', lambda g: any(
        c.customer_id == alice for c in g))[-1:]
    entry = next(c for c in gallery if c.customer_id == alice)
    assert entry.name == 'Gallery Alice'
    assert entry.embedding_dim == 128 and len(entry.embeddings) == 128
    # On the bus only a revision: no name, no embedding.
    revision = graph.got['revisions'][-1]
    assert revision.customers == len(gallery) and revision.revision >= 2
    assert set(type(revision).get_fields_and_field_types()) == {
        'header', 'gallery_id', 'revision', 'customers', 'added', 'removed'}
    assert any(list(r.added) == [alice] for r in graph.got['revisions'])  # ids only
    names_only = graph.call('get_gallery', max_customers=500, with_embeddings=False)
    assert names_only.success and not names_only.more
    assert all(c.embedding_dim == 0 and len(c.embeddings) == 0 for c in names_only.customers)
    assert 'Gallery Alice' in {c.name for c in names_only.customers}
    refused = graph.call('get_gallery', max_customers=0)
    assert not refused.success and 'max_customers' in refused.message
    assert graph.call('forget_customer', customer_id=alice).success
    graph.wait_for('gallery', lambda g: g is graph.got['gallery'][-1] and all(
        c.customer_id != alice for c in g))


def test_visit_through_fusion_gives_the_right_receipt(graph):
    alice, bob = graph.register('Alice'), graph.register('Bob')
    t = graph.slot()
    graph.enter(alice, t - 2 * S)
    graph.enter(bob, t - 2 * S)
    # Alice at shelf_a lane_1 (cola), Bob at lane_2 (water): each takes from their own lane.
    take_cola = graph.shelf_event('shelf_a', 'lane_1', 'cola', -2, t)
    take_water = graph.shelf_event('shelf_a', 'lane_2', 'water', -1, t)
    graph.frames('cam_shelf_a', t, [(1, alice, 100), (2, bob, 320)])
    assert graph.ros.spin_until(lambda: sum(a.event_id in (take_cola, take_water)
                                            for a in graph.got['actions']) == 2, TIMEOUT)
    by_event = {a.event_id: a for a in graph.got['actions']}
    assert (by_event[take_cola].customer_id, by_event[take_cola].quantity) == (alice, 2)
    assert (by_event[take_water].customer_id, by_event[take_water].quantity) == (bob, 1)
    assert stamp_ns(by_event[take_cola].header.stamp) == t
    assert not by_event[take_cola].ambiguous and not by_event[take_water].ambiguous
    # Alice puts one cola back a second later: credited to her (she holds cola).
    graph.wait_for('carts', lambda c: c.customer_id == alice and c.total_cents == 300)
    t2 = t + S
    graph.shelf_event('shelf_a', 'lane_1', 'cola', +1, t2)
    graph.frames('cam_shelf_a', t2, [(1, alice, 100)])
    graph.wait_for('carts', lambda c: c.customer_id == alice and c.total_cents == 150)
    graph.customer_event(CustomerEvent.EXITED, alice, t2 + S)
    receipt = graph.receipt(alice)
    assert lines_of(receipt) == [('cola', 1, 150, 150)]
    assert receipt.total_cents == 150 and receipt.currency == 'EUR'
    assert receipt.customer_name == ''  # names stay off the bus
    assert stamp_ns(receipt.header.stamp) == t2 + S
    # Bob leaves too; his receipt holds his water only.
    graph.customer_event(CustomerEvent.EXITED, bob, t2 + S)
    assert lines_of(graph.receipt(bob)) == [('water', 1, 99, 99)]


def test_duplicates_are_ignored_and_late_action_makes_an_adjustment(graph):
    carol = graph.register('Carol')
    t = graph.slot()
    graph.customer_event(CustomerEvent.ENTERED, carol, t - S, event_id=f'in-{carol}')
    graph.customer_event(CustomerEvent.ENTERED, carol, t - S, event_id=f'in-{carol}')
    graph.wait_for('carts', lambda c: c.customer_id == carol and c.visit_id != '')
    event = graph.cart_action(carol, 'chips', 1, t)
    graph.cart_action(carol, 'chips', 1, t, event_id=event)
    graph.cart_action(carol, 'chips', 1, t, event_id=event)
    graph.customer_event(CustomerEvent.EXITED, carol, t + S)
    first = graph.receipt(carol)
    assert lines_of(first) == [('chips', 1, 229, 229)]
    graph.cart_action(carol, 'chips', 1, t, event_id=event)  # duplicate after checkout
    graph.cart_action(carol, 'salad', 1, t + S // 2)  # stamped in the visit, arrives late
    adjusted = graph.receipt(carol, revision=2)
    assert adjusted.receipt_id != first.receipt_id and adjusted.visit_id == first.visit_id
    assert lines_of(adjusted) == [('chips', 1, 229, 229), ('salad', 1, 429, 429)]
    assert adjusted.total_cents == 658
    graph.wait_for('alerts', lambda a: a.kind == 'late_cart_action' and carol in a.refs)
    graph.ros.spin_for(0.3)
    assert not [r for r in graph.got['receipts'] if r.customer_id == carol and r.revision > 2]
    assert graph.ros.spin_until(lambda: graph.counter('store_node', 'duplicates') >= 4, TIMEOUT)


def test_a_shopper_seen_at_the_shelf_without_a_door_pass_is_let_in_and_charged(graph):
    dave, erin = graph.register('Dave'), graph.register('Erin')
    t = graph.slot()
    graph.enter(erin, t - S)
    # Dave's entrance pass was missed; the shelf camera identifies him right at the lane.
    taken = graph.shelf_event('shelf_b', 'lane_1', 'chips', -1, t)
    graph.frames('cam_shelf_b', t, [(5, dave, 100), (6, erin, 600)])
    (action,) = graph.wait_for('actions', lambda a: a.event_id == taken)
    assert action.customer_id == dave and not action.ambiguous
    (late,) = graph.wait_for('alerts', lambda a: a.kind == 'late_entry' and dave in a.refs
                             and a.source.endswith('store_node'))
    assert stamp_ns(late.header.stamp) == t - S  # the first image he was seen in
    graph.wait_for('carts', lambda c: c.customer_id == dave and c.total_cents == 229)
    graph.customer_event(CustomerEvent.EXITED, dave, t + S)
    receipt = graph.receipt(dave)
    assert lines_of(receipt) == [('chips', 1, 229, 229)]
    assert receipt.opened_by == Receipt.OPENED_LATE and receipt.ended_by == Receipt.ENDED_EXIT
    staff = graph.call('checkout', customer_id=erin)
    assert staff.success and staff.receipt.lines == []
    assert staff.receipt.ended_by == Receipt.ENDED_STAFF


def test_a_pick_of_a_face_identified_only_after_its_track_ended_is_charged(graph):
    """No camera could identify Jack at the shelf: his pick is held (an unknown face nearest)
    and, after late_attribution_s of image time, waits for that face's name. On his way out a
    face node names the shelf track (TrackIdentity, its visit memory): fusion charges the
    pick once, with Jack let in from the track's first image; a malformed or repeated
    TrackIdentity changes nothing."""
    jack = graph.register('Jack')
    t = graph.slot()
    graph.slot(), graph.slot()  # this test's frames run 6 s past its slot
    taken = graph.shelf_event('shelf_b', 'lane_1', 'chips', -1, t)
    graph.frames('cam_shelf_b', t, [(77, '', 100)])
    (held,) = graph.wait_for('actions', lambda a: a.event_id == taken)
    assert held.customer_id == ''
    later = FaceArray(camera_id='cam_shelf_b')  # image time goes on: the hold is given up
    later.header.stamp = time_from_ns(t + 6 * S)
    graph.faces['cam_shelf_b'].publish(later)
    assert graph.ros.spin_until(
        lambda: graph.counter('fusion_node', 'awaiting_identity') >= 1, TIMEOUT)

    def identity(confidence=0.8):
        msg = TrackIdentity(camera_id='cam_shelf_b', track_id=77, customer_id=jack,
                            match_distance=0.5, confidence=confidence)
        msg.header.stamp = time_from_ns(t + 6 * S)
        msg.first_seen, msg.last_seen = time_from_ns(t - S), time_from_ns(t + S // 2)
        graph.track_identities.publish(msg)

    identity(confidence=float('nan'))
    assert graph.ros.spin_until(
        lambda: graph.counter('fusion_node', 'bad_track_identities') >= 1, TIMEOUT)
    identity()
    (late,) = graph.wait_for('actions', lambda a: a.resolves_event_id == taken)
    assert late.customer_id == jack and late.quantity == 1
    assert stamp_ns(late.header.stamp) == t
    graph.wait_for('carts', lambda c: c.customer_id == jack and c.total_cents == 229)
    identity()
    assert graph.ros.spin_until(
        lambda: graph.counter('fusion_node', 'duplicate_track_identities') >= 1, TIMEOUT)
    graph.customer_event(CustomerEvent.EXITED, jack, t + 5 * S)
    receipt = graph.receipt(jack)
    assert lines_of(receipt) == [('chips', 1, 229, 229)]
    assert receipt.opened_by == Receipt.OPENED_LATE
    assert stamp_ns(receipt.entered_at) == t - S
    assert len([a for a in graph.got['actions'] if a.resolves_event_id == taken]) == 1


def test_customer_never_seen_is_never_charged_until_evidence_puts_them_in(graph):
    henry = graph.register('Henry')
    t = graph.slot()
    direct = graph.cart_action(henry, 'cola', 1, t)
    graph.wait_for('alerts', lambda a: a.kind == 'not_in_store' and direct in a.refs)
    response = graph.call('get_cart', customer_id=henry)
    assert response.success and not response.in_store and response.cart.total_cents == 0
    assert not graph.call('checkout', customer_id=henry).success
    # Then the evidence says he was in from before that pick (a late SEEN): the held action
    # lands on his visit, once.
    graph.customer_event(CustomerEvent.SEEN, henry, t - S, event_id=f'seen-{henry}')
    graph.wait_for('carts', lambda c: c.customer_id == henry and c.total_cents == 150)
    graph.customer_event(CustomerEvent.SEEN, henry, t - S, event_id=f'seen-{henry}')
    graph.customer_event(CustomerEvent.ABSENT, henry, t + S)
    receipt = graph.receipt(henry)
    assert lines_of(receipt) == [('cola', 1, 150, 150)]
    assert receipt.opened_by == Receipt.OPENED_LATE
    assert receipt.ended_by == Receipt.ENDED_ABSENT
    graph.wait_for('alerts', lambda a: a.kind == 'absent_checkout' and henry in a.refs)


def test_a_late_attribution_settles_a_held_action_exactly_once(graph):
    ivy, t, held = graph.held_pick('Ivy', 'water')
    late = CartAction(event_id=held + ':late', customer_id=ivy, item_id='water', quantity=1,
                      confidence=0.9, resolves_event_id=held)
    late.header.stamp = time_from_ns(t)
    graph.cart_actions.publish(late)
    graph.wait_for('carts', lambda c: c.customer_id == ivy and c.total_cents == 99)
    again = CartAction(event_id=held + ':again', customer_id=ivy, item_id='water', quantity=1,
                       confidence=0.9, resolves_event_id=held)
    again.header.stamp = time_from_ns(t)
    graph.cart_actions.publish(again)
    graph.wait_for('alerts', lambda a: a.kind == 'late_attribution_refused'
                   and held + ':again' in a.refs)
    graph.customer_event(CustomerEvent.EXITED, ivy, t + S)
    assert lines_of(graph.receipt(ivy)) == [('water', 1, 99, 99)]


def test_staff_settle_a_held_action_through_the_service_exactly_once(graph):
    una, t, held = graph.held_pick('Una', 'chips')
    queued = [a for a in graph.call('get_review_queue', limit=0).actions if a.event_id == held]
    assert [(a.item_id, a.quantity, a.reason) for a in queued] == [('chips', 1, 'unattributed')]
    assert stamp_ns(queued[0].stamp) == t
    settled = graph.call('resolve_action', event_id=held, customer_id=una, staff_id='staff_ana',
                         note='seen on the shelf camera')
    assert settled.success, settled.message
    graph.wait_for('carts', lambda c: c.customer_id == una and c.total_cents == 229)
    graph.wait_for('alerts', lambda a: a.kind == 'held_action_settled' and held in a.refs)
    again = graph.call('resolve_action', event_id=held, customer_id=una, staff_id='staff_bob',
                       note='')
    assert not again.success and 'not held' in again.message
    assert held not in {a.event_id for a in graph.call('get_review_queue', limit=0).actions}
    graph.customer_event(CustomerEvent.EXITED, una, t + S)
    assert lines_of(graph.receipt(una)) == [('chips', 1, 229, 229)]


def test_an_unidentified_person_leaving_lists_the_held_takes_for_staff(graph):
    _, t, held = graph.held_pick('Vera', 'salad')
    graph.customer_event(CustomerEvent.UNKNOWN_PERSON, '', t + S, door_id='exit')
    [alert] = graph.wait_for('alerts', lambda a: a.kind == 'unidentified_exit_with_held_takes'
                           and held in a.refs)
    assert alert.refs[1] == 'exit' and 'salad' in alert.message


def test_an_exit_of_someone_never_seen_coming_in_gets_a_receipt(graph):
    jack = graph.register('Jack')
    t = graph.slot()
    graph.customer_event(CustomerEvent.EXITED, jack, t)
    receipt = graph.receipt(jack)
    assert receipt.lines == [] and receipt.opened_by == Receipt.OPENED_LATE
    assert receipt.ended_by == Receipt.ENDED_EXIT


def test_put_back_not_held_raises_an_alert_and_stock_follows_shelf_events(graph):
    frank = graph.register('Frank')
    t = graph.slot()
    graph.enter(frank, t - S)
    back = graph.cart_action(frank, 'chocolate', -1, t)
    graph.wait_for('alerts', lambda a: a.kind == 'put_back_not_held' and back in a.refs)
    assert graph.call('set_stock', item_id='chocolate', stock=10).success
    graph.shelf_event('shelf_b', 'lane_2', 'chocolate', -3, t)
    graph.wait_for('inventory', lambda inv: any(
        i.item_id == 'chocolate' and i.stock == 7 for i in inv.items))
    assert not graph.call('set_stock', item_id='nope', stock=1).success


def test_malformed_input_is_counted_and_the_node_keeps_working(graph):
    gina = graph.register('Gina')
    t = graph.slot()
    graph.enter(gina, t - S)
    bad = CartAction(event_id='', customer_id=gina, item_id='cola', quantity=1)
    graph.cart_actions.publish(bad)
    bad = CartAction(event_id='x', customer_id=gina, item_id='cola', quantity=1,
                     candidate_ids=['a', 'b'], candidate_scores=[1.0])
    graph.cart_actions.publish(bad)
    huge = CartAction(event_id='huge', customer_id=gina, item_id='cola', quantity=2 ** 31 - 1,
                      shelf_id='shelf_a', lane_id='lane_1')
    graph.cart_actions.publish(huge)
    future = CartAction(event_id='future', customer_id=gina, item_id='cola', quantity=1)
    future.header.stamp = time_from_ns(t + 3600 * S)  # a clock gone wrong
    graph.cart_actions.publish(future)
    assert graph.ros.spin_until(
        lambda: graph.counter('store_node', 'future_stamps_refused') == 1, TIMEOUT)
    assert graph.ros.spin_until(lambda: graph.counter('store_node', 'bad_cart_actions') >= 3,
                                TIMEOUT)
    # While bad input keeps coming the store says so on /diagnostics.
    assert graph.ros.spin_until(lambda: any(
        s.name.startswith('store_node:') and s.level == DiagnosticStatus.WARN
        and 'bad_cart_actions' in s.message
        for d in graph.got['diagnostics'] for s in d.status), TIMEOUT)
    unknown = graph.cart_action(gina, 'caviar', 1, t)
    graph.wait_for('alerts', lambda a: a.kind == 'unknown_item' and unknown in a.refs)
    graph.cart_action(gina, 'cola', 1, t)
    graph.wait_for('carts', lambda c: c.customer_id == gina and c.total_cents == 150)
    # rviz sees her (by id: names stay off the bus) in store_markers, beside a cube per lane.
    (markers,) = graph.wait_for('markers', lambda ma: any(
        m.ns == 'shoppers' and m.text.startswith(f'{gina}: 1 items, 1.50 EUR')
        for m in ma.markers))[-1:]
    assert sum(m.ns == 'lanes' for m in markers.markers) == 6


def test_fusion_counts_what_it_refuses_and_warns_while_it_comes(graph):
    before = {key: graph.counter('fusion_node', key) for key in (
        'malformed_faces', 'bad_customer_events', 'bad_carts', 'bad_shelf_events')}
    t = graph.slot()
    empty_box = FaceArray(camera_id='cam_shelf_a', faces=[
        FaceDetection(track_id=1, customer_id='', confidence=0.0,
                      roi=RegionOfInterest(x_offset=60, y_offset=160, width=80, height=80)),
        FaceDetection(track_id=2, customer_id='', confidence=0.0,
                      roi=RegionOfInterest(x_offset=60, y_offset=160, width=0, height=0))])
    empty_box.header.stamp = time_from_ns(t)
    graph.faces['cam_shelf_a'].publish(empty_box)
    graph.customer_event(CustomerEvent.ENTERED, 'c' * 100, t)
    carts = CARTS.publisher(graph.node)
    nobody = Cart(customer_id='', visit_id='1')
    nobody.header.stamp = time_from_ns(t)
    carts.publish(nobody)
    graph.shelf_event('shelf_a', 'lane_9', 'cola', -1, t)
    assert graph.ros.spin_until(lambda: all(
        graph.counter('fusion_node', key) == before[key] + 1 for key in before), TIMEOUT)
    assert graph.ros.spin_until(lambda: any(
        s.name.startswith('fusion_node:') and s.level == DiagnosticStatus.WARN
        and 'rejecting input' in s.message and 'malformed_faces' in s.message
        for d in graph.got['diagnostics'] for s in d.status), TIMEOUT)
    # The store refused the overlong id too, and recorded no event on a lane it lacks.
    assert graph.ros.spin_until(lambda: graph.counter('store_node', 'bad_customer_events') >= 1,
                                TIMEOUT)


def test_dead_camera_decides_on_timeout_as_unattributed(graph):
    harry = graph.register('Harry')
    t = graph.slot()
    graph.enter(harry, t - S)
    # No frames from cam_shelf_b reach t + window_after_s: fusion decides after its timeout.
    taken = graph.shelf_event('shelf_b', 'lane_3', 'salad', -1, t)
    (action,) = graph.wait_for('actions', lambda a: a.event_id == taken)
    assert action.customer_id == '' and action.quantity == 1
    graph.wait_for('alerts', lambda a: a.kind == 'unattributed_pick' and taken in a.refs)
    assert graph.ros.spin_until(
        lambda: graph.counter('fusion_node', 'decided_on_timeout') >= 1, TIMEOUT)

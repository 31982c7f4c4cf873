"""A group at the doors, through the real door, fusion and store nodes over DDS.

Four shoppers come in together: two are seen steadily, one is hidden behind the others and only
named in the last frames of the pass (the door counts it when the track leaves), one looks away
the whole time (no pass: the shelf camera lets them in later, a late entry). They leave together;
the one the exit door does not get (one frame) is checked out as absent after the exit camera
lost them. Every one of them gets exactly one receipt that says how the visit began and ended.
Face arrays are fed directly (the vision pipeline has its own tests), so what is tested here is
the decisions, deterministically, over real DDS.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import RegionOfInterest

from ezshop_msgs.msg import CustomerEvent, FaceArray, FaceDetection, Receipt, ShelfEvent
from ezshop_msgs.srv import RegisterCustomer
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import CUSTOMER_EVENTS, FACES, RECEIPTS, SHELF_EVENTS
from ezshop_store.fusion_node import FusionNode
from ezshop_store.store_node import StoreNode
from ezshop_testing.ros import RosHarness
from ezshop_vision.door_node import DoorNode

FPS = 10
TIMEOUT = 15.0


def face(track, customer, x, size=120):
    return FaceDetection(track_id=track, customer_id=customer,
                         confidence=0.8 if customer else 0.0, match_distance=0.3,
                         roi=RegionOfInterest(x_offset=x, y_offset=120, width=size,
                                              height=size))


@pytest.fixture
def store(tmp_path, config_dir):
    ros = RosHarness()
    store_file = str(config_dir / 'store.yaml')
    ros.add(StoreNode(context=ros.context, parameter_overrides=[
        Parameter('database_url', value=f'sqlite:///{tmp_path / "store.db"}'),
        Parameter('store_file', value=store_file),
        Parameter('checkout_grace_s', value=0.3)]))
    ros.add(FusionNode(context=ros.context, parameter_overrides=[
        Parameter('store_file', value=store_file),
        Parameter('exit_absent_checkout_s', value=1.0),
        Parameter('late_entry_wait_s', value=3.0)]))
    for door in ('entrance', 'exit'):
        ros.add(DoorNode(context=ros.context, cli_args=['--ros-args', '-r',
                                                        f'__node:=door_{door}'],
                         parameter_overrides=[Parameter('store_file', value=store_file),
                                              Parameter('door_id', value=door)]))
    probe = ros.node('group_probe')
    got = {'events': [], 'receipts': []}
    CUSTOMER_EVENTS.subscription(probe, got['events'].append)
    RECEIPTS.subscription(probe, got['receipts'].append)
    faces = {cam: FACES.publisher(probe, camera=cam)
             for cam in ('cam_entrance', 'cam_exit', 'cam_shelf_a')}
    shelf = SHELF_EVENTS.publisher(probe)
    assert ros.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in faces.values())
                          and shelf.get_subscription_count() >= 2, TIMEOUT)
    client = probe.create_client(RegisterCustomer, 'register_customer')
    ids = {}
    for i, name in enumerate(('ada', 'bob', 'cat', 'dan')):
        embedding = np.random.default_rng(i).normal(size=128).astype(np.float32)
        response = ros.call(client, RegisterCustomer.Request(
            name=name, embeddings=embedding.tolist(), dim=128, model='test_model'))
        assert response.success, response.message
        ids[name] = response.customer_id

    def play(camera, seconds, people_at):
        """Frames at FPS for `seconds`, stamped now; people_at(i) -> faces of frame i."""
        for i in range(int(seconds * FPS)):
            msg = FaceArray(camera_id=camera, faces=people_at(i))
            msg.header.stamp = probe.get_clock().now().to_msg()
            faces[camera].publish(msg)
            ros.spin_for(1.0 / FPS)

    yield ros, probe, ids, got, play, shelf
    ros.close()


def test_a_group_in_and_out_gets_every_receipt(store):
    ros, probe, ids, got, play, shelf = store
    ada, bob, cat, dan = (ids[n] for n in ('ada', 'bob', 'cat', 'dan'))

    def entering(i):
        people = [face(1, ada if i >= 3 else '', 40), face(2, bob if i >= 2 else '', 200)]
        if 15 <= i <= 17:  # cat steps out from behind bob for 0.3 s, named as she leaves
            people.append(face(3, cat if i >= 16 else '', 330))
        people.append(face(4, '', 480))  # dan looks away: never named at the door
        return people

    play('cam_entrance', 2.0, entering)
    play('cam_entrance', 1.0, lambda i: [face(4, '', 480)])  # the camera goes on
    assert ros.spin_until(lambda: len([e for e in got['events']
                                       if e.kind == CustomerEvent.ENTERED]) >= 3, TIMEOUT)
    entered = sorted(e.customer_id for e in got['events'] if e.kind == CustomerEvent.ENTERED)
    assert entered == sorted([ada, bob, cat])

    # Dan is identified at the shelf and takes a cola: let in from that sighting, and charged.
    start = probe.get_clock().now().nanoseconds
    take = ShelfEvent(event_id=str(uuid.uuid4()), shelf_id='shelf_a', lane_id='lane_1',
                      item_id='cola', quantity_delta=-1, count_before=6, count_after=5,
                      confidence=1.0)
    take.header.stamp = time_from_ns(start + 1_000_000_000)
    shelf.publish(take)
    play('cam_shelf_a', 2.0, lambda i: [face(9, dan, 60, 110)])
    assert ros.spin_until(lambda: any(e.kind == CustomerEvent.SEEN and e.customer_id == dan
                                      for e in got['events']), TIMEOUT)
    seen = next(e for e in got['events'] if e.kind == CustomerEvent.SEEN)
    assert stamp_ns(seen.header.stamp) >= start and seen.camera_id == 'cam_shelf_a'

    # Out together; the exit door sees dan in one frame only (no pass).
    def leaving(i):
        people = [face(11, ada, 40), face(12, bob, 200), face(13, cat, 330)]
        if i == 5:
            people.append(face(14, dan, 480))
        return people

    play('cam_exit', 1.5, leaving)
    play('cam_exit', 2.0, lambda i: [])  # the camera goes on seeing an empty door
    assert ros.spin_until(lambda: len({r.customer_id for r in got['receipts']}) >= 4, TIMEOUT)
    exited = sorted(e.customer_id for e in got['events'] if e.kind == CustomerEvent.EXITED)
    assert exited == sorted([ada, bob, cat])
    receipts = {r.customer_id: r for r in got['receipts']}
    assert len(got['receipts']) == 4
    for customer in (ada, bob, cat):
        assert receipts[customer].lines == []
        assert receipts[customer].opened_by == Receipt.OPENED_AT_ENTRANCE
        assert receipts[customer].ended_by == Receipt.ENDED_EXIT
    late = receipts[dan]
    assert [(ln.item_id, ln.quantity) for ln in late.lines] == [('cola', 1)]
    assert late.opened_by == Receipt.OPENED_LATE and late.ended_by == Receipt.ENDED_ABSENT
    time.sleep(0.5)
    ros.spin_for(0.5)
    assert len(got['receipts']) == 4  # nobody twice

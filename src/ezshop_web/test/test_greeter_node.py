"""greeter_node over DDS with real espeak-ng: the words on `announcements` and a WAV file
that is speech, not silence."""

import shutil
import uuid
import wave

import numpy as np
import pytest
from rclpy.parameter import Parameter

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import Announcement, CustomerEvent, Receipt
from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import ANNOUNCEMENTS, CUSTOMER_EVENTS, RECEIPTS
from ezshop_testing.ros import RosHarness
from ezshop_web.greeter_node import GreeterNode

pytestmark = pytest.mark.timeout(120)
TIMEOUT = 20.0


def entry(customer_id: str, name: str) -> GalleryEntry:
    """A customer as the store keeps them (the greeter fetches only the id and the name)."""
    return GalleryEntry(customer_id, name, 4, 'test_model', np.ones((1, 4), np.float32))


@pytest.fixture
def graph(tmp_path):
    ros = RosHarness()
    greeter = ros.add(GreeterNode(context=ros.context, parameter_overrides=[
        Parameter('wav_dir', value=str(tmp_path / 'wav'))]))
    probe = ros.node('greeter_probe')
    heard: list[Announcement] = []
    ANNOUNCEMENTS.subscription(probe, heard.append)
    # The store's side: the test sets the entries and calls changed().
    source = EntryList()
    pubs = {'gallery': GalleryServer(probe, source), 'entries': source,
            'events': CUSTOMER_EVENTS.publisher(probe), 'receipts': RECEIPTS.publisher(probe)}
    assert ros.spin_until(lambda: all(pubs[p].get_subscription_count() >= 1
                                      for p in ('events', 'receipts')), TIMEOUT)
    yield ros, greeter, pubs, heard
    ros.close()


def serve(pubs, *customers: GalleryEntry) -> None:
    """The store's gallery changes to these customers."""
    before = set(pubs['entries'].entries)
    pubs['entries'].entries = {c.customer_id: c for c in customers}
    pubs['gallery'].changed(added=[c.customer_id for c in customers],
                            removed=sorted(before))


def rms(path) -> float:
    with wave.open(path) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.skipif(shutil.which('espeak-ng') is None,
                    reason='espeak-ng is not installed (make setup installs it as root: '
                    'apt-get install espeak-ng)')
def test_welcome_and_goodbye_are_published_and_spoken_to_wav_files(graph):
    ros, greeter, pubs, heard = graph
    serve(pubs, entry('c_ana', 'Ana'))
    assert ros.spin_until(lambda: greeter.greeter.names, TIMEOUT)
    now = greeter.get_clock().now().nanoseconds
    event = CustomerEvent(event_id=str(uuid.uuid4()), kind=CustomerEvent.ENTERED,
                          customer_id='c_ana', door_id='entrance', confidence=1.0)
    event.header.stamp = time_from_ns(now)
    pubs['events'].publish(event)
    pubs['events'].publish(event)  # delivered twice: greeted once
    receipt = Receipt(receipt_id='r_1', revision=1, visit_id='v_1', customer_id='c_ana',
                      customer_name='Ana', total_cents=489, currency='EUR')
    receipt.header.stamp = time_from_ns(now + 1)
    pubs['receipts'].publish(receipt)
    assert ros.spin_until(lambda: len(heard) >= 2, TIMEOUT)
    ros.spin_for(0.5)
    assert [(a.kind, a.text) for a in heard] == [
        (Announcement.WELCOME, 'Welcome, Ana!'),
        (Announcement.GOODBYE, 'Goodbye Ana, your total is 4.89 euros.')]
    assert heard[0].header.stamp == event.header.stamp
    assert ros.spin_until(lambda: greeter.counts['spoken'] == 2, TIMEOUT), greeter.counts
    for announcement in heard:
        assert announcement.wav_path.endswith('.wav')
        assert rms(announcement.wav_path) > 300  # speech, not silence (silence is ~0)


def test_receipts_issued_before_the_greeter_started_are_not_goodbyes(graph):
    ros, greeter, pubs, heard = graph
    old = Receipt(receipt_id='r_old', revision=1, customer_id='c_x', total_cents=100,
                  currency='EUR')
    old.header.stamp = time_from_ns(greeter.get_clock().now().nanoseconds - 60 * 10**9)
    pubs['receipts'].publish(old)
    assert ros.spin_until(lambda: greeter.counts['old_receipts_ignored'] == 1, TIMEOUT)
    assert heard == []


def test_bad_input_is_counted_not_greeted(graph):
    ros, greeter, pubs, heard = graph
    serve(pubs, entry('c_ana', 'Ana'), entry('c' * 100, 'Nobody'))
    assert ros.spin_until(lambda: greeter.counts.get('bad_gallery_entries') == 1, TIMEOUT)
    assert greeter.greeter.names == {'c_ana': 'Ana'}
    now = greeter.get_clock().now().nanoseconds

    def entered(customer_id, stamp_ns):
        event = CustomerEvent(event_id=str(uuid.uuid4()), kind=CustomerEvent.ENTERED,
                              customer_id=customer_id, door_id='entrance', confidence=1.0)
        event.header.stamp = time_from_ns(stamp_ns)
        pubs['events'].publish(event)

    entered('c_ana', now + 3600 * 10**9)   # a clock gone wrong
    entered('c_stranger', now)             # nobody the store enrolled
    entered('c' * 100, now)
    future = Receipt(receipt_id='r_future', revision=1, customer_id='c_ana', total_cents=100,
                     currency='EUR')
    future.header.stamp = time_from_ns(now + 3600 * 10**9)
    pubs['receipts'].publish(future)
    assert ros.spin_until(lambda: greeter.counts.get('bad_customer_events') == 2
                          and greeter._stamps.values()['future_stamps_refused'] == 2, TIMEOUT)
    entered('c_ana', now)                  # and a real pass is still welcomed
    assert ros.spin_until(lambda: heard, TIMEOUT)
    ros.spin_for(0.3)
    assert [(a.kind, a.customer_id) for a in heard] == [(Announcement.WELCOME, 'c_ana')]

"""The recorder over DDS, in process: discovery, QoS, throttling, latched history, the
store's gallery fetched into the bag, clean close. And the `ezshop` command line's parsing
and `info`."""

import time

import numpy as np
from ezshop_bag.cli import build_parser, main
from ezshop_bag.record_node import RecordNode
from ezshop_bag.rosbag2 import BagReader
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image, Range

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import Gallery, GalleryRevision, Receipt
from ezshop_ros.gallery import EntryList, GalleryServer


def test_recorder_takes_the_store_topics_throttles_images_and_closes_cleanly(ros, tmp_path):
    talker = ros.node('talker')
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    # The store's side, serving before the recorder exists: the latched revision brings the
    # recorder to get_gallery anyway.
    ada = np.arange(8, dtype=np.float32).reshape(2, 4)
    entries = [GalleryEntry('c1', 'ada', 4, 'test_model', ada)]
    source = EntryList(entries)
    gallery = GalleryServer(talker, source)
    image_pub = talker.create_publisher(Image, 'cameras/cam_a/image_raw', QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE))
    range_pub = talker.create_publisher(Range, 'shelves/shelf_a/lane_1/range', QoSProfile(
        depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
    receipt_pub = talker.create_publisher(Receipt, 'receipts', latched)
    ignored_pub = talker.create_publisher(Range, 'not_a_store_topic', 10)

    bag = tmp_path / 'bag'
    recorder = ros.add(RecordNode(context=ros.context, parameter_overrides=[
        Parameter('output', value=str(bag)), Parameter('image_rate_hz', value=5.0),
        Parameter('discovery_period_s', value=0.1), Parameter('alone_after_s', value=0.0),
        Parameter('niceness', value=0)]))  # never renice the test process
    subscribed = {'/gallery_revision', '/cameras/cam_a/image_raw',
                  '/shelves/shelf_a/lane_1/range', '/receipts'}
    assert ros.spin_until(lambda: subscribed <= set(recorder._recorded), 10.0), \
        recorder._recorded
    assert ros.spin_until(lambda: recorder.galleries_recorded == 1, 10.0)
    assert ros.spin_until(lambda: image_pub.get_subscription_count() > 0
                          and range_pub.get_subscription_count() > 0, 10.0)

    image = Image(height=1, width=1, encoding='mono8', step=1, data=b'x')
    start = time.monotonic()
    frames = 0
    while time.monotonic() - start < 2.0:  # 20 frames a second for 2 s
        image.header.frame_id = str(frames)
        image_pub.publish(image)
        range_pub.publish(Range(range=0.25))
        ignored_pub.publish(Range())
        frames += 1
        ros.spin_for(0.05)
    receipt_pub.publish(Receipt(customer_name='ada', total_cents=150))
    source.entries['c2'] = GalleryEntry('c2', 'bob', 4, 'test_model', np.ones((1, 4), np.float32))
    gallery.changed(added=['c2'])  # bob enrolled
    assert ros.spin_until(lambda: recorder.galleries_recorded == 2, 10.0)
    ros.spin_for(0.5)
    metadata = recorder.close()
    assert recorder.close() is None  # once

    reader = BagReader(bag)
    assert set(reader.topics) == subscribed | {'/gallery'}
    assert metadata['message_count'] == reader.message_count
    images = reader.topics['/cameras/cam_a/image_raw'].message_count
    assert frames >= 30 and 8 <= images <= 12, (frames, images)  # 5 a second of ~20
    ranges = reader.topics['/shelves/shelf_a/lane_1/range'].message_count
    assert ranges >= frames - 5
    offered = reader.topics['/shelves/shelf_a/lane_1/range'].offered_qos_profiles
    assert [q.reliability for q in offered] == ['best_effort']
    # The gallery as the store used to latch it, for replay: the whole of each revision,
    # embeddings and all.
    gallery_topic = reader.topics['/gallery']
    assert gallery_topic.type == 'ezshop_msgs/msg/Gallery'
    assert [(q.reliability, q.durability, q.depth)
            for q in gallery_topic.offered_qos_profiles] == [('reliable', 'transient_local', 1)]
    assert gallery_topic.type_description_hash.startswith('RIHS01_')
    assert reader.topics['/receipts'].type_description_hash.startswith('RIHS01_')
    galleries = [deserialize_message(m.data, Gallery) for m in reader.messages(['/gallery'])]
    assert [[(c.customer_id, c.name) for c in g.customers] for g in galleries] == [
        [('c1', 'ada')], [('c1', 'ada'), ('c2', 'bob')]]
    first = galleries[0].customers[0]
    assert (first.embedding_dim, first.model) == (4, 'test_model')
    assert np.array_equal(np.asarray(first.embeddings, np.float32), ada.ravel())
    revisions = [deserialize_message(m.data, GalleryRevision)
                 for m in reader.messages(['/gallery_revision'])]
    assert revisions and revisions[-1].customers == 2  # no name, no embedding there
    receipts = [deserialize_message(m.data, Receipt) for m in reader.messages(['/receipts'])]
    assert [(r.customer_name, r.total_cents) for r in receipts] == [('ada', 150)]
    assert reader.custom_data['ezshop.image_rate_hz'] == '5'
    log_times = [m.log_time_ns for m in reader.messages()]
    assert log_times == sorted(log_times) and abs(log_times[0] / 1e9 - time.time()) < 60


def test_recorder_waits_for_a_topics_consumer_before_subscribing(ros, tmp_path):
    """The simulator and replay start once their consumers subscribe: a recorder that
    subscribed first would start them early."""
    talker = ros.node('talker')
    talker.create_publisher(Receipt, 'shelf_events', 10)
    recorder = ros.add(RecordNode(context=ros.context, parameter_overrides=[
        Parameter('output', value=str(tmp_path / 'bag')),
        Parameter('discovery_period_s', value=0.1), Parameter('alone_after_s', value=60.0),
        Parameter('niceness', value=0)]))
    ros.spin_for(1.5)
    assert '/shelf_events' not in recorder._recorded
    assert talker.count_subscribers('shelf_events') == 0
    listener = ros.node('listener')
    listener.create_subscription(Receipt, 'shelf_events', lambda msg: None, 10)
    assert ros.spin_until(lambda: '/shelf_events' in recorder._recorded, 10.0)
    recorder.close()


def test_an_excluded_gallery_is_never_fetched(ros, tmp_path):
    talker = ros.node('talker')
    gallery = GalleryServer(talker, EntryList([
        GalleryEntry('c1', 'ada', 4, 'test_model', np.ones((1, 4), np.float32))]))
    recorder = ros.add(RecordNode(context=ros.context, parameter_overrides=[
        Parameter('output', value=str(tmp_path / 'bag')), Parameter('exclude', value=['gallery']),
        Parameter('discovery_period_s', value=0.1), Parameter('alone_after_s', value=0.0),
        Parameter('niceness', value=0)]))
    assert ros.spin_until(lambda: '/gallery_revision' in recorder._recorded, 10.0)
    ros.spin_for(1.0)
    recorder.close()
    assert recorder.galleries_recorded == 0 and gallery.pages_served == 0
    assert '/gallery' not in BagReader(tmp_path / 'bag').topics


def test_command_line(tmp_path, capsys):
    args = build_parser().parse_args(['record', '-o', 'x', '--image-rate', '2',
                                      '--topics', '/diagnostics', '--use-sim-time'])
    assert (args.output, args.image_rate, args.topics, args.use_sim_time) == \
        ('x', 2.0, ['/diagnostics'], True)
    args = build_parser().parse_args(['replay', 'bag', '--rate', '0.5', '--no-enrol'])
    assert (args.bag, args.rate, args.no_enrol, args.topics) == ('bag', 0.5, True, ['inputs'])

    assert main(['info', str(tmp_path / 'none')]) == 2
    from ezshop_bag.rosbag2 import BagWriter, TopicInfo
    writer = BagWriter(tmp_path / 'b')
    writer.add_topic(TopicInfo('/receipts', 'ezshop_msgs/msg/Receipt'))
    writer.write('/receipts', b'\x00\x01\x00\x00', 10**9)
    writer.close()
    capsys.readouterr()
    assert main(['info', str(tmp_path / 'b')]) == 0
    out = capsys.readouterr().out
    assert 'metadata version 9' in out and '/receipts' in out and 'messages:  1' in out

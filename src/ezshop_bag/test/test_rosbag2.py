"""The rosbag2 MCAP layout, checked against independent readers: rosbags (a rosbag2 reader
of its own, with its own CDR decoder and REP-2011 hashing) and the mcap library. No DDS."""

import threading

import pytest
import yaml
from builtin_interfaces.msg import Time
from ezshop_bag.queued_writer import QueuedWriter
from ezshop_bag.rosbag2 import (
    DELIMITER,
    INFINITE_NS,
    BagError,
    BagReader,
    BagWriter,
    MessageDefinition,
    Qos,
    TopicInfo,
    message_definition,
    parse_qos_yaml,
    qos_yaml,
    type_description_hash,
)
from mcap.reader import make_reader
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import Image, Range

from ezshop_msgs.msg import CartLine, Gallery, GalleryCustomer, Receipt

#: What rosbag2 (serialize_rclcpp_qos_vector, metadata version 9) writes for a reliable
#: keep-last-1 publisher as Fast DDS reports it.
ROSBAG2_QOS_TEXT = """\
- history: keep_last
  depth: 1
  reliability: reliable
  durability: volatile
  deadline:
    sec: 9223372036
    nsec: 854775807
  lifespan:
    sec: 9223372036
    nsec: 854775807
  liveliness: automatic
  liveliness_lease_duration:
    sec: 9223372036
    nsec: 854775807
  avoid_ros_namespace_conventions: false"""
#: The keys rosbag2's YAML encoder writes for BagMetadata (yaml.hpp), in its order.
ROSBAG2_METADATA_KEYS = [
    'version', 'storage_identifier', 'duration', 'starting_time', 'message_count',
    'topics_with_message_count', 'compression_format', 'compression_mode',
    'relative_file_paths', 'files', 'custom_data', 'ros_distro']
TYPES = ['sensor_msgs/msg/Image', 'sensor_msgs/msg/Range', 'sensor_msgs/msg/Illuminance',
         'sensor_msgs/msg/CameraInfo', 'ezshop_msgs/msg/Receipt', 'ezshop_msgs/msg/Gallery',
         'ezshop_msgs/msg/FaceArray', 'ezshop_msgs/msg/GroundTruth', 'ezshop_msgs/msg/Cart']


def test_qos_text_is_what_rosbag2_writes_and_reads_back():
    qos = Qos(history='keep_last', depth=1)
    assert qos_yaml([qos]) == ROSBAG2_QOS_TEXT
    assert parse_qos_yaml(ROSBAG2_QOS_TEXT) == [qos]
    unknown = Qos(history='unknown', depth=0, reliability='best_effort',
                  durability='transient_local', deadline_ns=0)
    assert parse_qos_yaml(qos_yaml([qos, unknown])) == [qos, unknown]
    assert 'deadline:\n    sec: 0\n    nsec: 0' in qos_yaml([unknown])
    assert parse_qos_yaml('') == []


@pytest.mark.parametrize('type_name', TYPES)
def test_definition_text_gives_the_hash_rosidl_generated(type_name):
    """rosbags parses the schema text on its own and hashes it (REP-2011): the result must be
    the hash rosidl generated for the installed type, so the text holds every field of every
    nested type."""
    definition = message_definition(type_name)
    assert definition.encoding == 'ros2msg'
    expected = type_description_hash(type_name)
    assert expected.startswith('RIHS01_') and len(expected) == 7 + 64
    store = get_typestore(Stores.EMPTY)
    store.register(get_types_from_msg(definition.text, type_name))
    assert store.hash_rihs01(type_name) == expected


def test_definition_layout_is_rosbag2s():
    text = message_definition('sensor_msgs/msg/Image').text
    blocks = text.split('\n' + DELIMITER)
    assert blocks[0].startswith('# This message contains an uncompressed image')
    assert [b.splitlines()[0] for b in blocks[1:]] == [
        'MSG: std_msgs/Header', 'MSG: builtin_interfaces/Time']


def _fake_share(tmp_path, files: dict[str, str]):
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return lambda package: (tmp_path / package) if (tmp_path / package).is_dir() else None


def test_dependencies_sorted_once_depth_first_and_same_package(tmp_path):
    share = _fake_share(tmp_path, {
        'a/msg/Top.msg': '# top\nZed z\nb/Mid m\nMid[] again\nuint8 K = 1  # constant\n',
        'a/msg/Zed.msg': 'string s\n',
        'a/msg/Mid.msg': 'b/Mid other\n',
        'b/msg/Mid.msg': 'a/Zed z\nint32 x\n'})
    text = message_definition('a/msg/Top', share).text
    headers = [line for line in text.splitlines() if line.startswith('MSG: ')]
    # sorted: a/Mid, a/Zed, b/Mid; a/Mid's own dependency b/Mid comes right after it, once.
    assert headers == ['MSG: a/Mid', 'MSG: b/Mid', 'MSG: a/Zed']
    assert text.startswith('# top\nZed z\n')


def test_idl_fallback_and_unknown_types(tmp_path):
    share = _fake_share(tmp_path, {'c/msg/Only.idl': '#include "c/msg/Dep.idl"\nmodule c {};\n',
                                   'c/msg/Dep.idl': 'module c {};\n'})
    definition = message_definition('c/msg/Only', share)
    assert definition.encoding == 'ros2idl'
    assert definition.text.startswith(DELIMITER + 'IDL: c/msg/Only\n')
    assert 'IDL: c/msg/Dep\n' in definition.text
    assert message_definition('c/msg/Missing', share) == MessageDefinition('unknown', '')
    assert message_definition('not a type', share).encoding == 'unknown'
    assert type_description_hash('c/msg/Only', share) == ''


def _receipt(name: str, cents: int) -> Receipt:
    msg = Receipt(receipt_id='1', revision=1, visit_id='v1', customer_id='c1',
                  customer_name=name, total_cents=cents, currency='EUR')
    msg.header.stamp = Time(sec=100, nanosec=5)
    msg.lines = [CartLine(item_id='cola', quantity=2, unit_price_cents=cents // 2,
                          line_total_cents=cents)]
    return msg


def _write_sample_bag(folder):
    writer = BagWriter(folder)
    image_qos = [Qos(history='unknown', depth=0)]
    range_qos = [Qos(history='unknown', depth=0, reliability='best_effort')]
    latched = [Qos(history='unknown', depth=0, durability='transient_local')]
    topics = {'/cameras/cam_a/image_raw': ('sensor_msgs/msg/Image', image_qos),
              '/shelves/s/l/range': ('sensor_msgs/msg/Range', range_qos),
              '/receipts': ('ezshop_msgs/msg/Receipt', latched)}
    for name, (type_name, qos) in topics.items():
        writer.add_topic(TopicInfo(name, type_name, qos, type_description_hash(type_name),
                                   definition=message_definition(type_name)))
    image = Image(height=2, width=3, encoding='bgr8', step=9, data=bytes(range(18)))
    writer.write('/cameras/cam_a/image_raw', serialize_message(image), 1_000, 990, 7)
    for k in range(3):
        writer.write('/shelves/s/l/range', serialize_message(Range(range=0.1 * k)),
                     2_000 + k, 1_990 + k)
    writer.write('/receipts', serialize_message(_receipt('ada', 300)), 5_000, 4_990)
    metadata = writer.close({'ezshop.namespace': '/'}, 'kilted')
    return writer, metadata


def test_a_written_bag_reads_back_in_rosbags_with_rosbag2s_metadata(tmp_path):
    folder = tmp_path / 'visit'
    writer, metadata = _write_sample_bag(folder)
    assert sorted(p.name for p in folder.iterdir()) == ['metadata.yaml', 'visit_0.mcap']

    on_disk = yaml.safe_load((folder / 'metadata.yaml').read_text())
    assert list(on_disk) == ['rosbag2_bagfile_information']
    info = on_disk['rosbag2_bagfile_information']
    assert list(info) == ROSBAG2_METADATA_KEYS
    assert info['version'] == 9 and info['storage_identifier'] == 'mcap'
    assert info['relative_file_paths'] == ['visit_0.mcap'] and info['message_count'] == 5
    assert info['starting_time'] == {'nanoseconds_since_epoch': 1_000}
    assert info['duration'] == {'nanoseconds': 4_000}
    assert info['files'][0]['message_count'] == 5 and info['ros_distro'] == 'kilted'
    topic = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert topic['/shelves/s/l/range']['message_count'] == 3
    assert list(topic['/receipts']['topic_metadata']) == [
        'name', 'type', 'serialization_format', 'offered_qos_profiles', 'type_description_hash']
    assert topic['/receipts']['topic_metadata']['offered_qos_profiles'][0]['durability'] \
        == 'transient_local'

    # The MCAP itself, as rosbag2_storage_mcap reads it.
    with open(folder / 'visit_0.mcap', 'rb') as stream:
        reader = make_reader(stream)
        assert reader.get_header().profile == 'ros2'
        summary = reader.get_summary()
        assert summary.statistics.message_count == 5
        schemas = {s.name: s for s in summary.schemas.values()}
        assert {s.encoding for s in schemas.values()} == {'ros2msg'}
        for channel in summary.channels.values():
            assert channel.message_encoding == 'cdr'
            assert set(channel.metadata) == {'offered_qos_profiles', 'topic_type_hash'}
            type_name = schemas[summary.schemas[channel.schema_id].name].name
            assert channel.metadata['topic_type_hash'] == type_description_hash(type_name)
        records = [m for m in reader.iter_metadata() if m.name == 'rosbag2']
        assert len(records) == 1
        assert yaml.safe_load(records[0].metadata['serialized_metadata']) == info
        sequences = [m.sequence for _, _, m in reader.iter_messages()]
        assert sequences[0] == 7

    # rosbags: its own rosbag2 reader and CDR decoder.
    with Reader(folder) as bag:
        assert bag.message_count == 5 and bag.ros_distro == 'kilted'
        store = get_typestore(Stores.EMPTY)
        for connection in bag.connections:
            store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
            assert store.hash_rihs01(connection.msgtype) == connection.digest
        by_topic = {c.topic: c for c in bag.connections}
        assert by_topic['/shelves/s/l/range'].ext.offered_qos_profiles[0].reliability.name \
            == 'BEST_EFFORT'
        decoded = [(c.topic, t, store.deserialize_cdr(raw, c.msgtype))
                   for c, t, raw in bag.messages()]
    assert [(topic, t) for topic, t, _ in decoded] == [
        ('/cameras/cam_a/image_raw', 1_000), ('/shelves/s/l/range', 2_000),
        ('/shelves/s/l/range', 2_001), ('/shelves/s/l/range', 2_002), ('/receipts', 5_000)]
    assert bytes(decoded[0][2].data) == bytes(range(18))
    receipt = decoded[-1][2]
    assert (receipt.customer_name, receipt.total_cents, receipt.lines[0].quantity) == \
        ('ada', 300, 2)


def test_our_reader_reads_what_we_wrote(tmp_path):
    _write_sample_bag(tmp_path / 'bag')
    for path in (tmp_path / 'bag', tmp_path / 'bag' / 'bag_0.mcap'):
        reader = BagReader(path)
        assert reader.custom_data == {'ezshop.namespace': '/'}
        assert (reader.start_ns, reader.end_ns, reader.message_count) == (1_000, 5_000, 5)
        assert reader.topics['/receipts'].offered_qos_profiles[0].durability \
            == 'transient_local'
        assert reader.topics['/shelves/s/l/range'].message_count == 3
        assert reader.topics['/receipts'].type_description_hash == \
            type_description_hash('ezshop_msgs/msg/Receipt')
        messages = list(reader.messages(['/shelves/s/l/range']))
        assert [m.log_time_ns for m in messages] == [2_000, 2_001, 2_002]
        assert [m.publish_time_ns for m in messages] == [1_990, 1_991, 1_992]
        assert list(reader.messages([])) == []


def test_writer_refuses_an_existing_bag_and_unknown_topics(tmp_path):
    (tmp_path / 'old').mkdir()
    (tmp_path / 'old' / 'x').write_text('x')
    with pytest.raises(BagError, match='exists already'):
        BagWriter(tmp_path / 'old')
    with pytest.raises(BagError, match='compression'):
        BagWriter(tmp_path / 'new', compression='gzip')
    writer = BagWriter(tmp_path / 'new', compression='lz4')
    with pytest.raises(BagError, match='unknown topic'):
        writer.write('/nope', b'', 1)
    writer.close()
    writer.close()  # twice is fine
    assert BagReader(tmp_path / 'new').message_count == 0
    with pytest.raises(BagError, match='no such bag'):
        BagReader(tmp_path / 'missing')


def test_a_cut_recording_is_reported(tmp_path):
    _write_sample_bag(tmp_path / 'cut')
    path = tmp_path / 'cut' / 'cut_0.mcap'
    path.write_bytes(path.read_bytes()[:-200])  # what a killed recorder leaves on disk
    with pytest.raises(BagError, match='cut short'):
        BagReader(path)


def test_queued_writer_writes_in_order_from_many_threads_and_bounds_memory(tmp_path):
    queued = QueuedWriter(BagWriter(tmp_path / 'q'), max_bytes=10_000)
    queued.add_topic(TopicInfo('/g', 'ezshop_msgs/msg/Gallery',
                               definition=message_definition('ezshop_msgs/msg/Gallery')))
    data = serialize_message(Gallery(customers=[GalleryCustomer(name='ada')]))

    def burst(offset):
        for k in range(50):
            queued.write('/g', data, offset + k)
    threads = [threading.Thread(target=burst, args=(1000 * i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not queued.write('/g', b'x' * 20_000, 1)  # larger than the whole queue
    metadata = queued.close()
    assert queued.dropped >= 1
    assert metadata['message_count'] == 200 + 1 - queued.dropped
    assert BagReader(tmp_path / 'q').topics['/g'].message_count == metadata['message_count']


def test_infinite_durations_stay_infinite():
    text = qos_yaml([Qos()])
    assert parse_qos_yaml(text)[0].deadline_ns == INFINITE_NS

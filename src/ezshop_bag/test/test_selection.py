"""What is recorded, how often, with which QoS, and what replay publishes when. No DDS."""

import pytest
from ezshop_bag.rosbag2 import Qos
from ezshop_bag.selection import (
    MIN_RECORD_DEPTH,
    REPLAY_DEPTH,
    PlaybackClock,
    Throttle,
    TopicSelector,
    join_now,
    matches,
    record_qos,
    relative_name,
    replay_qos,
    replay_topics,
)

#: docs/architecture.md's topics table, as a store at the root namespace names them.
STORE_TOPICS = [
    '/shelves/shelf_a/lane_1/range', '/shelves/shelf_b/lane_3/illuminance', '/shelf_events',
    '/shelf_state', '/cameras/cam_entrance/image_raw', '/cameras/cam_entrance/camera_info',
    '/cameras/cam_shelf_a/faces', '/customer_events', '/cart_actions', '/carts', '/receipts',
    '/inventory', '/gallery_revision', '/alerts', '/sim/ground_truth']
#: (`/gallery` is in bags, but no topic: the recorder writes what it fetched from get_gallery.)
NOT_RECORDED = ['/diagnostics', '/store_markers', '/cameras/cam_entrance/image_annotated',
                '/rosout', '/parameter_events', '/clock', '/shelves/shelf_a/lane_1/extra/range',
                '/gallery']
FRAME_NS = 100_000_000  # 10 frames a second


def test_the_store_topics_are_recorded_and_nothing_else():
    selector = TopicSelector.create()
    assert [t for t in STORE_TOPICS if not selector.wanted(t)] == []
    assert [t for t in NOT_RECORDED if selector.wanted(t)] == []
    assert selector.throttled('/cameras/cam_exit/image_raw')
    assert selector.throttled('/cameras/cam_exit/camera_info')
    assert not selector.throttled('/cameras/cam_exit/faces')


def test_extra_exclude_images_and_namespace():
    selector = TopicSelector.create('/', extra=['/diagnostics', 'cameras/*/image_annotated', ''],
                                    exclude=['alerts', 'shelves/shelf_b/*/*'])
    assert selector.wanted('/diagnostics')
    assert selector.wanted('/cameras/cam_exit/image_annotated')
    assert not selector.wanted('/alerts')
    assert not selector.wanted('/shelves/shelf_b/lane_1/range')
    assert selector.wanted('/shelves/shelf_a/lane_1/range')

    no_images = TopicSelector.create(images=False)
    assert not no_images.wanted('/cameras/cam_exit/image_raw')
    assert not no_images.wanted('/cameras/cam_exit/camera_info')
    assert no_images.wanted('/cameras/cam_exit/faces')

    store1 = TopicSelector.create('/store1')
    assert store1.wanted('/store1/receipts') and store1.wanted('/store1/cameras/c/image_raw')
    assert not store1.wanted('/receipts') and not store1.wanted('/store2/receipts')
    assert relative_name('/store1', '/store1/gallery') == 'gallery'
    assert relative_name('/', '/gallery') == 'gallery'
    assert relative_name('/store1', '/gallery') is None
    assert matches(['/clock'], '/store1', '/clock')


def _kept(throttle, times_ns, topic='/cameras/c/image_raw'):
    return [t for t in times_ns if throttle.keep(topic, t)]


@pytest.mark.parametrize('rate, expected', [(10.0, 50), (5.0, 25), (2.5, 13), (1.0, 5)])
def test_throttle_spreads_a_jittery_10_hz_camera_evenly(rate, expected):
    # 5 s of frames 100 ms apart, each up to 15 ms early or late.
    jitter = [0, 12, -9, 15, -15, 3, -4, 8, -12, 1]
    times = [k * FRAME_NS + jitter[k % 10] * 1_000_000 for k in range(50)]
    kept = _kept(Throttle(rate), times)
    assert len(kept) == expected
    gaps = [b - a for a, b in zip(kept, kept[1:], strict=False)]
    assert min(gaps) >= 1e9 / rate - 0.5 * FRAME_NS


def test_throttle_per_topic_gaps_and_off():
    throttle = Throttle(2.0)
    assert _kept(throttle, [0, FRAME_NS], 'a') == [0]
    assert _kept(throttle, [0], 'b') == [0]  # topics are independent
    late = 10 * 10**9  # after a long gap the slots start from the new frame
    assert _kept(throttle, [late, late + 4 * FRAME_NS, late + 5 * FRAME_NS], 'a') == [
        late, late + 5 * FRAME_NS]
    assert throttle.kept == {'a': 3, 'b': 1} and throttle.dropped == {'a': 2}
    off = Throttle(0.0)
    assert _kept(off, [0, 10**9]) == []


def test_record_qos_adapts_to_the_publishers():
    unknown = dict(history='unknown', depth=0)
    reliable = Qos(**unknown)
    best_effort = Qos(reliability='best_effort', **unknown)
    latched = Qos(durability='transient_local', **unknown)
    assert record_qos([reliable]) == Qos(depth=MIN_RECORD_DEPTH)
    assert record_qos([reliable, best_effort]).reliability == 'best_effort'
    assert record_qos([latched]).durability == 'transient_local'
    assert record_qos([latched, reliable]).durability == 'volatile'
    assert record_qos([Qos(history='keep_all', depth=0)]).history == 'keep_all'
    assert record_qos([Qos(depth=5000)]).depth == 1000
    assert record_qos([reliable, latched], throttled=True) == Qos(
        depth=1, reliability='best_effort', durability='volatile')
    assert record_qos([]) == Qos(depth=MIN_RECORD_DEPTH)


def test_replay_qos_keeps_reliability_and_durability():
    recorded = Qos(history='unknown', depth=0, reliability='best_effort',
                   durability='transient_local', deadline_ns=5)
    assert replay_qos([recorded]) == Qos(depth=REPLAY_DEPTH, reliability='best_effort',
                                         durability='transient_local')
    assert replay_qos([Qos(history='keep_last', depth=1)]) == Qos(depth=1)
    assert replay_qos([Qos(reliability='unknown', durability='unknown')]) == Qos()
    assert replay_qos([]) == Qos(depth=REPLAY_DEPTH)


def test_replay_topics_inputs_all_or_named():
    recorded = [*STORE_TOPICS, '/gallery']  # a bag: the gallery is the recorder's own
    inputs = replay_topics(recorded, '/', ['inputs'])
    assert inputs == ['/shelves/shelf_a/lane_1/range', '/shelves/shelf_b/lane_3/illuminance',
                      '/cameras/cam_entrance/image_raw', '/cameras/cam_entrance/camera_info']
    assert replay_topics(recorded, '/', ['']) == inputs
    assert replay_topics(recorded, '/', ['all']) == recorded
    assert replay_topics(recorded, '/', ['gallery', '/alerts']) == ['/alerts', '/gallery']
    assert replay_topics(['/s1/gallery', '/s1/cameras/c/image_raw'], '/s1', ['inputs']) == [
        '/s1/cameras/c/image_raw']


def test_playback_clock():
    clock = PlaybackClock(start_ns=50 * 10**9, rate=2.0)
    assert not clock.running and clock.now_ns(123.0) == 50 * 10**9
    with pytest.raises(RuntimeError):
        clock.wall_at(0)
    clock.start(1000.0)
    assert clock.now_ns(1001.0) == 52 * 10**9
    assert clock.wall_at(54 * 10**9) == pytest.approx(1002.0)
    assert clock.now_ns(1000.5) == 52 * 10**9  # never backwards
    with pytest.raises(ValueError):
        PlaybackClock(0, rate=0.0)


def test_the_recorder_joins_after_the_consumer_or_alone_after_a_while():
    assert join_now(True, 0.0, 15.0)
    assert not join_now(False, 14.9, 15.0)
    assert join_now(False, 15.0, 15.0)
    assert join_now(False, 0.0, 0.0)  # like ros2 bag record

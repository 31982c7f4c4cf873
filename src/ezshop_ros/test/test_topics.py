"""The topic contract: both ends of every topic match, and docs/architecture.md's topic table
says what the contract is."""

from pathlib import Path

import pytest
from rclpy.qos import HistoryPolicy, QoSCompatibility, qos_check_compatible

from ezshop_common.store_config import Lane
from ezshop_ros import topics

ARCHITECTURE = Path(__file__).resolve().parents[3] / 'docs' / 'architecture.md'
TABLE_HEADER = '| topic | type | from -> to | QoS |'


def documented_topics() -> dict[str, tuple[str, str]]:
    """The rows of the architecture doc's topic table: name -> (type, QoS words)."""
    lines = ARCHITECTURE.read_text().splitlines()
    start = lines.index(TABLE_HEADER) + 2
    rows = {}
    for line in lines[start:]:
        if not line.startswith('|'):
            break
        name, msg_type, _, qos = (cell.strip() for cell in line.strip('|').split('|'))
        rows[name] = (msg_type, qos)
    return rows


def doc_name(topic: topics.Topic) -> str:
    return topic.name.replace('{', '<').replace('}', '>')


def doc_type(topic: topics.Topic) -> str:
    return f"{topic.msg_type.__module__.split('.')[0]}/{topic.msg_type.__name__}"


@pytest.mark.parametrize('topic', topics.ALL, ids=lambda topic: topic.name)
def test_a_publisher_and_a_subscription_of_the_contract_always_match(topic):
    # WARNING = left to the middleware's defaults (liveliness, deadline): they match.
    compatibility, reason = qos_check_compatible(topic.publisher_qos.profile(),
                                                 topic.subscriber_qos.profile())
    assert compatibility != QoSCompatibility.ERROR, f'{topic.name}: {reason}'


def test_the_match_check_refuses_ends_that_cannot_talk():
    best_effort_writer = topics.Qos(depth=1, reliable=False)
    volatile_writer = topics.Qos(depth=1)
    for writer, reader in ((best_effort_writer, topics.reliable(1)),
                           (volatile_writer, topics.latched(1))):
        compatibility, _ = qos_check_compatible(writer.profile(), reader.profile())
        assert compatibility == QoSCompatibility.ERROR


def test_the_architecture_table_is_the_contract():
    documented = documented_topics()
    contract = {doc_name(t): (doc_type(t), t.describe()) for t in topics.ALL}
    assert documented == contract


def test_events_that_must_not_be_lost_are_kept_all_by_their_readers():
    for topic in (topics.SHELF_EVENTS, topics.CUSTOMER_EVENTS, topics.CART_ACTIONS):
        assert topic.subscriber_qos.profile().history == HistoryPolicy.KEEP_ALL, topic.name


def test_names_and_lane_topics():
    assert topics.FACES.topic_name(camera='cam_a') == 'cameras/cam_a/faces'
    ultrasonic = Lane('shelf_a', 'lane_1', 'cola', 8, 8, 'ultrasonic', 'shelf_a_lane_1')
    light = Lane('shelf_a', 'lane_3', 'chips', 1, 1, 'light', 'shelf_a_lane_3')
    assert topics.lane_reading(ultrasonic) is topics.RANGE
    assert topics.lane_reading(light) is topics.ILLUMINANCE
    assert topics.RANGE.topic_name(**topics.lane_fields(ultrasonic)) == \
        'shelves/shelf_a/lane_1/range'

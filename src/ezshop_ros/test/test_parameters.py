"""declare_settings over a real rclpy node: one described parameter per setting, dynamic ones
changed through the node's parameter service (as `ros2 param set` does), everything else
refused as read-only; NaN and out-of-range values refused."""

import math
from dataclasses import dataclass

from rcl_interfaces.srv import DescribeParameters
from rclpy.node import Node
from rclpy.parameter import Parameter

from ezshop_common.settings import setting
from ezshop_ros.parameters import declare_settings


@dataclass(frozen=True)
class ShelfSettings:
    settle_s: float = setting(1.0, 'Time a reading must stay put (s)', 0.0, 10.0, dynamic=True)
    lanes: int = setting(3, 'Lanes on the shelf', 1, 12)
    label: str = setting('a', 'Shelf label')


def call(ros, node_name, service_type, service, request):
    client = ros.node(f'probe_{service}').create_client(service_type,
                                                         f'{node_name}/{service}')
    return ros.call(client, request, timeout=20)


def test_settings_become_described_parameters_and_only_dynamic_ones_change(ros):
    changes = []
    node = ros.add(Node('shelf', context=ros.context))
    settings = declare_settings(node, ShelfSettings, on_change=changes.append, lanes=4)
    assert settings == ShelfSettings(lanes=4)  # an override replaces the default

    described = call(ros, '/shelf', DescribeParameters, 'describe_parameters',
                     DescribeParameters.Request(names=['settle_s', 'lanes', 'label']))
    settle, lanes, label = described.descriptors
    assert settle.description == 'Time a reading must stay put (s)' and not settle.read_only
    assert settle.floating_point_range[0].to_value == 10.0
    assert lanes.read_only and lanes.integer_range[0].from_value == 1 and label.read_only

    result, = ros.set_parameters('/shelf', settle_s=2.5)
    assert result.successful and changes == [ShelfSettings(settle_s=2.5, lanes=4)]
    for refused in ros.set_parameters('/shelf', settle_s=math.nan) + ros.set_parameters('/shelf', settle_s=11.0) \
            + ros.set_parameters('/shelf', lanes=5) + ros.set_parameters('/shelf', settle_s='fast'):
        assert not refused.successful and refused.reason
    assert len(changes) == 1 and node.get_parameter('settle_s').value == 2.5


def test_without_on_change_every_setting_is_read_only(ros):
    node = ros.add(Node('shelf', context=ros.context))
    declare_settings(node, ShelfSettings)
    result, = ros.set_parameters('/shelf', settle_s=2.0)
    assert not result.successful and node.get_parameter('settle_s').value == 1.0


def test_a_whole_number_given_for_a_float_setting_counts_as_that_float(ros):
    node = ros.add(Node('shelf', context=ros.context, parameter_overrides=[
        Parameter('settle_s', value=2), Parameter('lanes', value=5)]))
    settings = declare_settings(node, ShelfSettings)
    assert settings.settle_s == 2.0 and isinstance(settings.settle_s, float)
    assert settings.lanes == 5

"""Shared fixtures for ezshop_sensors tests."""

import pytest


@pytest.fixture
def set_parameters():
    """`ros2 param set` from a test: set_parameters(harness, '/node', name=value, ...) calls
    the node's SetParameters service over DDS and returns the results, in order."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    def call(ros, node_name, **values):
        setter = ros.node(f'param_setter_{len(ros.nodes)}')
        client = setter.create_client(SetParameters, f'{node_name}/set_parameters')
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        try:
            return list(ros.call(client, request, timeout=20).results)
        finally:
            ros.remove(setter)
    return call

"""config/vision.yaml sets only parameters the nodes declare, with the declared types."""

from rclpy.parameter import Parameter

from ezshop_testing.param_files import node_parameters
from ezshop_vision.camera_node import CameraNode
from ezshop_vision.door_node import DoorNode
from ezshop_vision.face_node import FaceNode


def test_every_parameter_in_vision_yaml_is_declared_with_its_type(ros, config_dir):
    config = node_parameters(config_dir / 'vision.yaml')
    store = str(config_dir / 'store.yaml')
    def camera(o):
        return CameraNode(context=ros.context, parameter_overrides=o)

    def door(o):
        return DoorNode(context=ros.context, parameter_overrides=[
            *[p for p in o if p.name != 'store_file'], Parameter('store_file', value=store)])

    # One section per node instance of launch/store.launch.xml, keyed by its node name.
    makers = {
        'camera_entrance': camera, 'camera_exit': camera, 'camera_shelf_a': camera,
        'camera_shelf_b': camera,
        'face_node': lambda o: FaceNode(context=ros.context, parameter_overrides=o),
        'door_entrance': door, 'door_exit': door,
    }
    assert set(config) == set(makers)
    for name, maker in makers.items():
        values = config[name]
        node = ros.add(maker([Parameter(k, value=v) for k, v in values.items()]))
        for key, value in values.items():
            assert node.has_parameter(key), f'{name}: {key} is not declared'
            if key != 'store_file':
                assert node.get_parameter(key).value == value, f'{name}: {key}'
        descriptors = node.describe_parameters(list(values))
        assert all(d.description for d in descriptors), f'{name}: a parameter lacks a description'

"""The store nodes' parameters over DDS, as `ros2 param` sees them: config/store_nodes.yaml sets
only declared parameters (with their types and descriptions), dynamic ones really change what
the node uses, the rest (and invalid values) are refused."""

from rclpy.parameter import Parameter

from ezshop_store.analytics_node import AnalyticsNode
from ezshop_store.fusion_node import FusionNode
from ezshop_store.store_node import StoreNode
from ezshop_testing.param_files import node_parameters


def store_node(ros, config_dir, tmp_path, overrides=()):
    return ros.add(StoreNode(context=ros.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('database_url', value=f'sqlite:///{tmp_path / "store.db"}'), *overrides]))


def fusion_node(ros, config_dir, overrides=()):
    return ros.add(FusionNode(context=ros.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')), *overrides]))


def test_store_nodes_yaml_sets_only_declared_parameters(ros, config_dir, tmp_path):
    config = node_parameters(config_dir / 'store_nodes.yaml')
    assert set(config) == {'store_node', 'fusion_node', 'analytics_node'}
    for name, make in (('store_node', lambda o: store_node(ros, config_dir, tmp_path, o)),
                       ('fusion_node', lambda o: fusion_node(ros, config_dir, o)),
                       ('analytics_node', lambda o: ros.add(AnalyticsNode(
                           context=ros.context, parameter_overrides=[Parameter(
                               'store_file', value=str(config_dir / 'store.yaml')), *o])))):
        values = {k: v for k, v in config[name].items()
                  if k not in ('store_file', 'database_url')}
        node = make([Parameter(k, value=v) for k, v in values.items()])
        for key, value in values.items():
            assert node.get_parameter(key).value == value, f'{name}: {key}'
        assert all(d.description for d in node.describe_parameters(list(values))), name


def test_fusion_thresholds_change_at_run_time_and_bad_values_are_refused(ros, config_dir):
    node = fusion_node(ros, config_dir)
    assert node.engine.params.min_confidence == 0.15
    results = ros.set_parameters('/fusion_node', min_confidence=0.4, absent_checkout_s=120.0)
    assert all(r.successful for r in results), results
    assert node.engine.params.min_confidence == 0.4
    assert node.engine.presence.settings.absent_checkout_ns == 120 * 10**9
    policy, horizon = ros.set_parameters('/fusion_node', ambiguous_policy='coin_flip',
                                     late_attribution_s=8.0)
    assert not policy.successful and 'ambiguous_policy' in policy.reason
    assert not horizon.successful  # the frame buffer was sized from it at start
    assert node.engine.params.ambiguous_policy == 'hold'


def test_store_grace_period_changes_at_run_time_and_the_database_is_read_only(
        ros, config_dir, tmp_path):
    node = store_node(ros, config_dir, tmp_path)
    changed, = ros.set_parameters('/store_node', checkout_grace_s=0.5)
    assert changed.successful and node.settings.grace_ns == 500_000_000
    database, = ros.set_parameters('/store_node', database_url='sqlite:////tmp/other.db')
    assert not database.successful
    assert node.engine.url.database == str(tmp_path / 'store.db')

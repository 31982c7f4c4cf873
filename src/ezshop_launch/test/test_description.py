"""The launch XML subset: substitutions, args, scoping, includes, and clear refusals."""

import os

import pytest
import yaml

from ezshop_launch.description import LaunchDescription
from ezshop_launch.substitutions import LaunchError, Scope, evaluate


def fake_exe(pkg, exe):
    return f'/prefix/{pkg}/lib/{pkg}/{exe}'


def fake_share(pkg):
    return f'/share/{pkg}'


def describe(tmp_path, xml, args=None, name='test.launch.xml'):
    path = tmp_path / name
    path.write_text(xml)
    return LaunchDescription(str(path), args, find_executable=fake_exe,
                             find_package_share=fake_share)


def test_substitutions_nest_and_quote(tmp_path, monkeypatch):
    monkeypatch.setenv('EZ_TEST_VALUE', 'from-env')
    scope = Scope({'pkg': 'ezshop_store', 'x': 'a b'}, str(tmp_path / 'f.launch.xml'),
                  find_package_share=fake_share)
    assert evaluate('$(find-pkg-share $(var pkg))/config', scope) == '/share/ezshop_store/config'
    assert evaluate('$(env EZ_TEST_VALUE)-$(env EZ_NOT_SET fallback)', scope) == 'from-env-fallback'
    assert evaluate("$(env EZ_NOT_SET 'two words')", scope) == 'two words'
    assert evaluate('$(dirname)/x', scope) == f'{tmp_path}/x'
    assert evaluate('[$(var x)]', scope) == '[a b]'


@pytest.mark.parametrize('text, fragment', [
    ('$(var missing)', "no launch argument or let named 'missing'"),
    ('$(env EZ_NOT_SET)', 'environment variable not set'),
    ('$(eval 1+1)', 'substitution $(eval ...) is not supported'),
    ('$(var x', 'unterminated substitution'),
    ('$(dirname extra)', 'takes 0..0 arguments'),
])
def test_substitution_errors(text, fragment):
    with pytest.raises(LaunchError, match=fragment.replace('$', r'\$').replace('(', r'\(')
                       .replace(')', r'\)').replace('.', r'\.').replace('+', r'\+')):
        evaluate(text, Scope({'x': '1'}, '/a/b.launch.xml'))


def test_node_command_line(tmp_path):
    params = tmp_path / 'p.yaml'
    params.write_text('/**:\n  ros__parameters: {a: 1}\n')
    d = describe(tmp_path, f'''<launch>
      <arg name="rate" default="5"/>
      <let name="node_name" value="worker_$(var rate)"/>
      <node pkg="ezshop_store" exec="store_node" name="$(var node_name)" namespace="shop"
            output="screen" respawn="true" respawn_delay="2.5" args="--flag 'x y'"
            ros_args="--log-level debug">
        <param from="{params}"/>
        <param name="rate_hz" value="$(var rate)"/>
        <remap from="carts" to="/elsewhere/carts"/>
        <env name="EZ_MODE" value="test"/>
      </node>
    </launch>''', {'rate': '7'})
    [spec] = d.processes
    generated = spec.cmd[spec.cmd.index('--log-level') - 1]
    assert spec.cmd == ['/prefix/ezshop_store/lib/ezshop_store/store_node', '--flag', 'x y',
                        '--ros-args', '-r', '__node:=worker_7', '-r', '__ns:=/shop',
                        '--params-file', str(params), '-r', 'carts:=/elsewhere/carts',
                        '--params-file', generated, '--log-level', 'debug']
    # <param name value> go through a parameter file, typed as launch_ros types them.
    assert yaml.safe_load(open(generated)) == {'/**': {'ros__parameters': {'rate_hz': 7}}}
    d.cleanup()
    assert not os.path.exists(generated)
    assert spec.env == {'EZ_MODE': 'test'}
    assert (spec.output, spec.respawn, spec.respawn_delay) == ('screen', True, 2.5)
    assert spec.label == 'worker_7'


def test_groups_scope_namespaces_and_lets(tmp_path):
    d = describe(tmp_path, '''<launch>
      <let name="suffix" value="outer"/>
      <group>
        <push_ros_namespace namespace="store1"/>
        <let name="suffix" value="inner"/>
        <node pkg="p" exec="a" name="a_$(var suffix)"/>
        <group>
          <push-ros-namespace namespace="cams"/>
          <node pkg="p" exec="b" name="b" namespace="front"/>
          <node pkg="p" exec="c" name="c" namespace="/absolute"/>
        </group>
      </group>
      <node pkg="p" exec="d" name="d_$(var suffix)"/>
    </launch>''')
    cmds = {s.label: ' '.join(s.cmd) for s in d.processes}
    assert '__node:=a_inner' in cmds['a_inner'] and '__ns:=/store1' in cmds['a_inner']
    assert '__ns:=/store1/cams/front' in cmds['b']
    assert '__ns:=/absolute' in cmds['c']
    assert '__ns' not in cmds['d_outer']


def test_include_passes_args_and_is_scoped(tmp_path):
    (tmp_path / 'inner.launch.xml').write_text('''<launch>
      <arg name="who" default="nobody"/>
      <arg name="extra" default="x"/>
      <node pkg="p" exec="inner" name="inner_$(var who)_$(var extra)"/>
      <let name="leak" value="yes"/>
    </launch>''')
    d = describe(tmp_path, '''<launch>
      <arg name="who" default="ada"/>
      <include file="$(dirname)/inner.launch.xml">
        <arg name="who" value="$(var who)"/>
      </include>
      <node pkg="p" exec="outer" name="outer"/>
    </launch>''', {'who': 'grace'})
    assert [s.label for s in d.processes] == ['inner_grace_x', 'outer']
    with pytest.raises(LaunchError, match="no launch argument or let named 'leak'"):
        describe(tmp_path, '''<launch>
          <include file="inner.launch.xml"/>
          <node pkg="p" exec="x" name="$(var leak)"/>
        </launch>''', name='outer2.launch.xml')


def test_conditions(tmp_path):
    xml = '''<launch>
      <arg name="with_b" default="false"/>
      <node pkg="p" exec="a" name="a" unless="$(var with_b)"/>
      <node pkg="p" exec="b" name="b" if="$(var with_b)"/>
    </launch>'''
    assert [s.label for s in describe(tmp_path, xml).processes] == ['a']
    assert [s.label for s in describe(tmp_path, xml, {'with_b': 'true'}).processes] == ['b']
    with pytest.raises(LaunchError, match="expected true or false, got 'maybe'"):
        describe(tmp_path, xml, {'with_b': 'maybe'})


@pytest.mark.parametrize('xml, fragment', [
    ('<launch><executable cmd="ls"/></launch>',
     '<executable> is not supported by the EZShop launch runner'),
    ('<launch><node pkg="p" exec="a" launch-prefix="gdb"/></launch>',
     "attribute 'launch-prefix' is not supported"),
    ('<launch><node pkg="p" exec="a"><ros_param name="x" value="1"/></node></launch>',
     'child <ros_param> is not supported'),
    ('<launch><node pkg="p" exec="a" on_exit="restart"/></launch>', "on_exit='restart'"),
    ('<launch><node pkg="p" exec="a" output="own_log"/></launch>', "output='own_log'"),
    ('<launch><node exec="a"/></launch>', "needs attribute 'pkg'"),
    ('<launch><arg name="x"/></launch>', "launch argument 'x' is required"),
    ('<launch><arg name="x" default="a"><choice value="a"/><choice value="b"/></arg>'
     '<let name="y" value="$(var x)"/><node pkg="p" exec="$(var y)"/></launch>', None),
    ('<launch><node pkg="p" exec="a"><param from="/does/not/exist.yaml"/></node></launch>',
     'parameter file /does/not/exist.yaml does not exist'),
    ('<notlaunch/>', 'root element must be <launch>'),
    ('<launch>', 'cannot read launch file'),
])
def test_refusals_are_clear(tmp_path, xml, fragment):
    if fragment is None:
        describe(tmp_path, xml)
        return
    with pytest.raises(LaunchError) as info:
        describe(tmp_path, xml)
    assert fragment in str(info.value)


def test_unknown_and_bad_choice_arguments(tmp_path):
    xml = '<launch><arg name="x" default="a"><choice value="a"/><choice value="b"/></arg></launch>'
    with pytest.raises(LaunchError, match='no launch argument named typo'):
        describe(tmp_path, xml, {'typo': '1'})
    with pytest.raises(LaunchError, match="x='c' is not one of a, b"):
        describe(tmp_path, xml, {'x': 'c'})


def test_param_values_are_typed_like_launch_ros(tmp_path):
    d = describe(tmp_path, """<launch>
      <node pkg="p" exec="a" name="a">
        <param name="empty" value=""/>
        <param name="flag" value="true"/>
        <param name="ratio" value="0.5"/>
        <param name="topics" value="[cameras/a/image_raw, shelf_events]"/>
        <param name="text" value="two words"/>
        <param name="mapping" value="{a: 1}"/>
      </node>
    </launch>""")
    generated = d.processes[0].cmd[-1]
    assert yaml.safe_load(open(generated))['/**']['ros__parameters'] == {
        'empty': '', 'flag': True, 'ratio': 0.5,
        'topics': ['cameras/a/image_raw', 'shelf_events'], 'text': 'two words',
        'mapping': '{a: 1}'}
    d.cleanup()

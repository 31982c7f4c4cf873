"""Read a launch XML file into the list of processes to start.

Implemented subset (everything else is refused with an error naming the tag or attribute):
  <launch>                      root
  <arg name default value description>   (with <choice value> children)
  <let name value>
  <node pkg exec name namespace exec_name output respawn respawn_delay on_exit args ros_args>
      <param name value> | <param from>, <remap from to>, <env name value>
  <group scoped> with <push_ros_namespace namespace> (also <push-ros-namespace>)
  <include file> with <arg name value>
  if= / unless= on every entity; substitutions: see substitutions.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import xml.etree.ElementTree as ET  # noqa: N817
from dataclasses import dataclass, field

import yaml

from ezshop_launch.substitutions import LaunchError, Scope, evaluate, to_bool

CONDITIONS = ('if', 'unless')
OUTPUTS = ('screen', 'log', 'both')


@dataclass
class ProcessSpec:
    """One node process to start."""

    label: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    output: str = 'log'
    respawn: bool = False
    respawn_delay: float = 0.0
    shutdown_on_exit: bool = False


@dataclass
class LaunchArgument:
    name: str
    default: str | None
    description: str
    choices: list[str]


class LaunchDescription:
    """The processes a launch file starts, given argument values."""

    def __init__(self, path: str, arguments: dict[str, str] | None = None,
                 find_executable=None, find_package_share=None):
        self.path = os.path.abspath(path)
        self.processes: list[ProcessSpec] = []
        self.declared: list[LaunchArgument] = []
        self.params_dir: str | None = None
        self._find_executable = find_executable or _find_executable
        scope = Scope(configurations={}, launch_file=self.path,
                      find_package_share=find_package_share or _find_package_share)
        self._load(self.path, scope, dict(arguments or {}), top_level=True)

    # -- files and scopes ------------------------------------------------------------------
    def _load(self, path: str, scope: Scope, given: dict[str, str], top_level: bool) -> None:
        try:
            tree = ET.parse(path)
        except (OSError, ET.ParseError) as exc:
            raise LaunchError(f'{path}: cannot read launch file: {exc}') from None
        root = tree.getroot()
        if root.tag != 'launch':
            raise LaunchError(f'{path}: root element must be <launch>, not <{root.tag}>')
        for name in root.attrib:
            if name != 'version':
                raise LaunchError(f'{path}: <launch>: attribute {name!r} is not supported')
        unused = set(given)
        for element in root:
            if element.tag == 'arg':
                unused.discard(element.get('name', ''))
        if not top_level:
            scope.configurations.update(given)  # include args are launch configurations
        elif unused:
            raise LaunchError(f'{path}: no launch argument named {", ".join(sorted(unused))} '
                              f'(declared: {", ".join(a.name for a in self.declared) or "none"})')
        self._entities(list(root), path, scope, given, top_level)

    def _entities(self, elements, path, scope, given, top_level=False):
        for element in elements:
            if not isinstance(element.tag, str):
                continue  # comments
            where = f'{path}: <{element.tag}>'
            handler = {
                'arg': self._arg, 'let': self._let, 'node': self._node, 'group': self._group,
                'include': self._include, 'push_ros_namespace': self._push_namespace,
                'push-ros-namespace': self._push_namespace,
            }.get(element.tag)
            if handler is None:
                raise LaunchError(
                    f'{path}: <{element.tag}> is not supported by the EZShop launch runner '
                    '(supported: arg, let, node, group, push_ros_namespace, include); '
                    'use `ros2 launch` on a full ROS 2 install')
            if not self._condition(element, scope, where):
                continue
            if element.tag == 'arg':
                self._arg(element, path, scope, given, top_level)
            else:
                handler(element, path, scope)

    def _condition(self, element, scope, where) -> bool:
        if 'if' in element.attrib and not to_bool(evaluate(element.get('if'), scope, where),
                                                  where + ' if='):
            return False
        if 'unless' in element.attrib and to_bool(
                evaluate(element.get('unless'), scope, where), where + ' unless='):
            return False
        return True

    def _write_params(self, values: dict) -> str:
        """A parameter file for <param name value> entries, as launch_ros writes them."""
        if self.params_dir is None:
            self.params_dir = tempfile.mkdtemp(prefix='ezshop_launch_params_')
        fd, file = tempfile.mkstemp(suffix='.yaml', dir=self.params_dir)
        with os.fdopen(fd, 'w') as stream:
            yaml.safe_dump({'/**': {'ros__parameters': values}}, stream)
        return file

    def cleanup(self) -> None:
        """Remove the generated parameter files."""
        if self.params_dir is not None:
            shutil.rmtree(self.params_dir, ignore_errors=True)
            self.params_dir = None

    @staticmethod
    def _check_attributes(element, path, allowed, children=()):
        where = f'{path}: <{element.tag}>'
        for name in element.attrib:
            if name not in allowed and name not in CONDITIONS:
                raise LaunchError(f'{where}: attribute {name!r} is not supported by the EZShop '
                                  f'launch runner (supported: {", ".join(allowed)}, if, unless)')
        for child in element:
            if isinstance(child.tag, str) and child.tag not in children:
                raise LaunchError(
                    f'{where}: child <{child.tag}> is not supported by the EZShop launch runner'
                    f' (supported: {", ".join(children) or "none"})')

    @staticmethod
    def _required(element, name, path):
        if name not in element.attrib:
            raise LaunchError(f'{path}: <{element.tag}> needs attribute {name!r}')
        return element.get(name)

    # -- entities --------------------------------------------------------------------------
    def _arg(self, element, path, scope, given, top_level):
        self._check_attributes(element, path, ('name', 'default', 'value', 'description'),
                               ('choice',))
        where = f'{path}: <arg>'
        name = self._required(element, 'name', path)
        choices = [c.get('value', '') for c in element if c.tag == 'choice']
        if top_level:
            self.declared.append(LaunchArgument(
                name, element.get('default'), element.get('description', ''), choices))
        if name in given:
            value = given[name]
        elif 'value' in element.attrib:
            value = evaluate(element.get('value'), scope, where)
        elif 'default' in element.attrib:
            value = evaluate(element.get('default'), scope, where)
        else:
            raise LaunchError(f'{path}: launch argument {name!r} is required '
                              f'(pass {name}:=<value>)')
        if choices and value not in choices:
            raise LaunchError(f'{path}: launch argument {name}={value!r} is not one of '
                              f'{", ".join(choices)}')
        scope.configurations[name] = value

    def _let(self, element, path, scope):
        self._check_attributes(element, path, ('name', 'value'))
        name = self._required(element, 'name', path)
        scope.configurations[name] = evaluate(self._required(element, 'value', path), scope,
                                              f'{path}: <let name="{name}">')

    def _push_namespace(self, element, path, scope):
        self._check_attributes(element, path, ('namespace',))
        where = f'{path}: <{element.tag}>'
        ns = evaluate(self._required(element, 'namespace', path), scope, where)
        scope.namespace = _join_namespace(scope.namespace, ns)

    def _group(self, element, path, scope):
        self._check_attributes(element, path, ('scoped',), (
            'arg', 'let', 'node', 'group', 'include', 'push_ros_namespace', 'push-ros-namespace'))
        scoped = to_bool(evaluate(element.get('scoped', 'true'), scope, path), f'{path}: <group>')
        inner = scope.child() if scoped else scope
        self._entities(list(element), path, inner, given={})

    def _include(self, element, path, scope):
        self._check_attributes(element, path, ('file',), ('arg',))
        where = f'{path}: <include>'
        file = evaluate(self._required(element, 'file', path), scope, where)
        if not os.path.isabs(file):
            file = os.path.join(os.path.dirname(path), file)
        inner = scope.child(launch_file=os.path.abspath(file))
        given = {}
        for arg in element:
            if not isinstance(arg.tag, str):
                continue
            self._check_attributes(arg, path, ('name', 'value'))
            given[self._required(arg, 'name', path)] = evaluate(
                self._required(arg, 'value', path), scope, where)
        self._load(os.path.abspath(file), inner, given, top_level=False)

    def _node(self, element, path, scope):
        self._check_attributes(
            element, path,
            ('pkg', 'exec', 'name', 'namespace', 'exec_name', 'output', 'respawn',
             'respawn_delay', 'on_exit', 'args', 'ros_args'),
            ('param', 'remap', 'env'))
        where = f'{path}: <node>'

        def attr(name, default=None):
            value = element.get(name)
            return default if value is None else evaluate(value, scope, f'{where} {name}=')

        pkg = evaluate(self._required(element, 'pkg', path), scope, where)
        executable = evaluate(self._required(element, 'exec', path), scope, where)
        name = attr('name')
        namespace = _join_namespace(scope.namespace, attr('namespace', ''))
        output = attr('output', 'log')
        if output not in OUTPUTS:
            raise LaunchError(f'{where}: output={output!r} is not supported '
                              f'(supported: {", ".join(OUTPUTS)})')
        on_exit = attr('on_exit')
        if on_exit not in (None, 'shutdown'):
            raise LaunchError(f'{where}: on_exit={on_exit!r} is not supported (only "shutdown")')

        cmd = [self._find_executable(pkg, executable)]
        cmd += shlex.split(attr('args', ''))
        ros_args = []
        if name:
            ros_args += ['-r', f'__node:={name}']
        if namespace:
            ros_args += ['-r', f'__ns:={namespace}']
        env = {}
        pending: dict = {}  # <param name value> since the last file, written as one file

        def flush():
            if pending:
                ros_args.extend(['--params-file', self._write_params(pending)])
                pending.clear()

        for child in element:
            if not isinstance(child.tag, str):
                continue
            cwhere = f'{where} <{child.tag}>'
            if not self._condition(child, scope, cwhere):
                continue
            if child.tag == 'param':
                self._check_attributes(child, path, ('name', 'value', 'from'))
                if 'from' in child.attrib:
                    if 'name' in child.attrib or 'value' in child.attrib:
                        raise LaunchError(f'{cwhere}: use either from= or name=/value=')
                    file = evaluate(child.get('from'), scope, cwhere)
                    if not os.path.isfile(file):
                        raise LaunchError(f'{cwhere}: parameter file {file} does not exist')
                    flush()
                    ros_args += ['--params-file', file]
                else:
                    pname = evaluate(self._required(child, 'name', path), scope, cwhere)
                    pvalue = evaluate(self._required(child, 'value', path), scope, cwhere)
                    pending[pname] = typed_value(pvalue)
            elif child.tag == 'remap':
                self._check_attributes(child, path, ('from', 'to'))
                ros_args += ['-r', '{}:={}'.format(
                    evaluate(self._required(child, 'from', path), scope, cwhere),
                    evaluate(self._required(child, 'to', path), scope, cwhere))]
            else:  # env
                self._check_attributes(child, path, ('name', 'value'))
                env[evaluate(self._required(child, 'name', path), scope, cwhere)] = evaluate(
                    self._required(child, 'value', path), scope, cwhere)
        flush()
        ros_args += shlex.split(attr('ros_args', ''))
        if ros_args:
            cmd += ['--ros-args'] + ros_args
        self.processes.append(ProcessSpec(
            label=attr('exec_name') or name or executable,
            cmd=cmd, env=env, output=output,
            respawn=to_bool(attr('respawn', 'false'), f'{where} respawn='),
            respawn_delay=_float(attr('respawn_delay', '0'), f'{where} respawn_delay='),
            shutdown_on_exit=on_exit == 'shutdown'))


def typed_value(text: str):
    """A <param value> string as launch_ros types it: YAML scalars and lists; '' stays ''."""
    if text == '':
        return ''
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return value
    if isinstance(value, (bool, int, float, str)):
        return value
    return text


def _join_namespace(base: str, ns: str) -> str:
    if not ns:
        return base
    if ns.startswith('/'):
        return ns.rstrip('/') or '/'
    return (base.rstrip('/') + '/' + ns).rstrip('/') if base else '/' + ns.rstrip('/')


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise LaunchError(f'{where}: expected a number, got {value!r}') from None


def _find_package_share(pkg: str) -> str:
    from ament_index_python.packages import (
        PackageNotFoundError,
        get_package_share_directory,
    )
    try:
        return get_package_share_directory(pkg)
    except PackageNotFoundError:
        raise LaunchError(f'package {pkg!r} not found in the ament index '
                          '(is the workspace built and sourced?)') from None


def _find_executable(pkg: str, executable: str) -> str:
    """Like `ros2 run`: <package prefix>/lib/<pkg>/<executable>."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        prefix = get_package_prefix(pkg)
    except PackageNotFoundError:
        raise LaunchError(f'package {pkg!r} not found in the ament index '
                          '(is the workspace built and sourced?)') from None
    path = os.path.join(prefix, 'lib', pkg, executable)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise LaunchError(f'executable {executable!r} not found in package {pkg!r} '
                          f'(looked for {path})')
    return path

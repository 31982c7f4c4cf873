"""Launch XML substitutions: $(var), $(env), $(dirname), $(find-pkg-share).

Substitutions nest (``$(find-pkg-share $(var pkg))``); arguments are separated by white space
and may be quoted with ' or ". Anything else is refused with a LaunchError naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field


class LaunchError(Exception):
    """The launch file uses something this runner does not implement, or is wrong."""


@dataclass
class Scope:
    """What substitutions resolve against: launch configurations and the current file."""

    configurations: dict[str, str] = field(default_factory=dict)
    launch_file: str = ''
    namespace: str = ''
    find_package_share: Callable[[str], str] | None = None

    def child(self, launch_file: str | None = None) -> Scope:
        """A copy for a scoped group or an included file (changes do not leak out)."""
        return Scope(dict(self.configurations), launch_file or self.launch_file,
                     self.namespace, self.find_package_share)


SUPPORTED = ('var', 'env', 'dirname', 'find-pkg-share')


def evaluate(text: str, scope: Scope, where: str = '') -> str:
    """Resolve every $(...) in text."""
    value, end = _parse_text(text, 0, scope, where, nested=False)
    assert end == len(text)
    return value


def _parse_text(text: str, pos: int, scope: Scope, where: str, nested: bool) -> tuple[str, int]:
    """Plain text with substitutions, up to the end (or a ')' / white space when nested)."""
    out = []
    while pos < len(text):
        if text.startswith('$(', pos):
            value, pos = _parse_substitution(text, pos + 2, scope, where)
            out.append(value)
        elif nested and (text[pos] == ')' or text[pos].isspace()):
            break
        else:
            out.append(text[pos])
            pos += 1
    return ''.join(out), pos


def _parse_substitution(text: str, pos: int, scope: Scope, where: str) -> tuple[str, int]:
    start = pos
    while pos < len(text) and not text[pos].isspace() and text[pos] != ')':
        pos += 1
    name = text[start:pos]
    args = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise LaunchError(f'{where}: unterminated substitution "$({text[start:]}"')
        if text[pos] == ')':
            pos += 1
            break
        if text[pos] in '\'"':
            quote = text[pos]
            end = text.find(quote, pos + 1)
            if end < 0:
                raise LaunchError(f'{where}: unterminated quote in "{text}"')
            arg, _ = _parse_text(text[pos + 1:end], 0, scope, where, nested=False)
            pos = end + 1
        else:
            arg, pos = _parse_text(text, pos, scope, where, nested=True)
        args.append(arg)
    return _apply(name, args, scope, where), pos


def _apply(name: str, args: list[str], scope: Scope, where: str) -> str:
    if name == 'var':
        _arity(name, args, 1, 1, where)
        if args[0] not in scope.configurations:
            raise LaunchError(f'{where}: $(var {args[0]}): no launch argument or let named '
                              f'{args[0]!r} (known: {", ".join(sorted(scope.configurations))})')
        return scope.configurations[args[0]]
    if name == 'env':
        _arity(name, args, 1, 2, where)
        if args[0] in os.environ:
            return os.environ[args[0]]
        if len(args) == 2:
            return args[1]
        raise LaunchError(f'{where}: $(env {args[0]}): environment variable not set '
                          'and no default given')
    if name == 'dirname':
        _arity(name, args, 0, 0, where)
        return os.path.dirname(os.path.abspath(scope.launch_file))
    if name == 'find-pkg-share':
        _arity(name, args, 1, 1, where)
        if scope.find_package_share is None:
            raise LaunchError(f'{where}: $(find-pkg-share) is not available')
        return scope.find_package_share(args[0])
    raise LaunchError(f'{where}: substitution $({name} ...) is not supported by the EZShop '
                      f'launch runner (supported: {", ".join(SUPPORTED)}); use `ros2 launch` '
                      'on a full ROS 2 install')


def _arity(name: str, args: list[str], low: int, high: int, where: str) -> None:
    if not low <= len(args) <= high:
        raise LaunchError(f'{where}: $({name}) takes {low}..{high} arguments, got {len(args)}')


def to_bool(value: str, where: str) -> bool:
    """Launch XML booleans: true/false (any case) or 1/0."""
    lowered = value.strip().lower()
    if lowered in ('true', '1'):
        return True
    if lowered in ('false', '0'):
        return False
    raise LaunchError(f'{where}: expected true or false, got {value!r}')

"""Install the ROS 2 launch system and CLI from their upstream repositories at pinned commits
(requirements-ros-upstream.txt), for `make setup` on a machine without the vendor folder.

    python scripts/ros_upstream.py PINS WORKDIR   -> prints the colcon source folders, one a line

$EZSHOP_ROS_GIT_URL is the repository URL template (default https://github.com/{repo}.git;
{owner} and {name} also work), e.g. a local mirror.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

URL_TEMPLATE = 'https://github.com/{repo}.git'
PIP = [sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
       '--no-deps']


def pins(path: Path) -> list[tuple[str, str, str, list[str]]]:
    """(repository, commit, how, subdirectories) of every non-comment line."""
    out = []
    for line in path.read_text().splitlines():
        fields = line.split('#', 1)[0].split()
        if fields:
            repo, commit, how, *subdirs = fields
            out.append((repo, commit, how, subdirs))
    return out


def url(repo: str) -> str:
    owner, name = repo.split('/')
    return os.environ.get('EZSHOP_ROS_GIT_URL', URL_TEMPLATE).format(repo=repo, owner=owner,
                                                                     name=name)


def checkout(repo: str, commit: str, folder: Path) -> Path:
    """The repository at commit in folder (cloned once, then only checked out)."""
    if not (folder / '.git').is_dir():
        subprocess.run(['git', 'clone', '--quiet', '--no-checkout', url(repo), str(folder)],
                       check=True)
    subprocess.run(['git', '-C', str(folder), 'checkout', '--quiet', commit], check=True)
    return folder


def install_module(source: Path) -> None:
    """pip-install the Python module of an ament_cmake package (name and version from its
    package.xml), as the vendor folder's wheel does."""
    manifest = (source / 'package.xml').read_text()
    name = re.search(r'<name>(.*?)</name>', manifest).group(1)
    version = re.search(r'<version>(.*?)</version>', manifest).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).symlink_to((source / name).resolve())
        (Path(tmp) / 'setup.py').write_text(
            'from setuptools import setup\n'
            f'setup(name={name!r}, version={version!r}, packages=[{name!r}])\n')
        subprocess.run([*PIP, tmp], check=True)


def main(argv: list[str]) -> int:
    pins_file, work = Path(argv[0]), Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    requirements, colcon_paths = [], []
    for repo, commit, how, subdirs in pins(pins_file):
        if how == 'pip':
            for sub in subdirs:
                suffix = '' if sub == '.' else f'#subdirectory={sub}'
                requirements.append(f'git+{url(repo)}@{commit}{suffix}')
            continue
        source = checkout(repo, commit, work / repo.replace('/', '+'))
        if how == 'module':
            for sub in subdirs:
                install_module(source / sub)
        elif how == 'colcon':
            colcon_paths += [str(source / sub) for sub in subdirs]
        else:
            raise SystemExit(f'{pins_file}: unknown way {how!r} for {repo}')
    if requirements:
        subprocess.run([*PIP, *requirements], check=True)
    print('\n'.join(colcon_paths))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

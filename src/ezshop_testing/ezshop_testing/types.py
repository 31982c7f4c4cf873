"""Every interface type ezshop_msgs defines, found from its installed .msg/.srv files."""

import importlib
import os

from ament_index_python.packages import get_package_share_directory


def _names(kind: str) -> list[str]:
    folder = os.path.join(get_package_share_directory('ezshop_msgs'), kind)
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.' + kind))


def ezshop_message_types() -> dict:
    module = importlib.import_module('ezshop_msgs.msg')
    return {name: getattr(module, name) for name in _names('msg')}


def ezshop_service_types() -> dict:
    module = importlib.import_module('ezshop_msgs.srv')
    return {name: getattr(module, name) for name in _names('srv')}

"""Where EZShop finds things a user may point elsewhere."""

import os
from pathlib import Path

#: Environment variable naming the face photos folder (<identity>/<n>.jpg layout).
FACES_ENV = 'EZSHOP_FACES'


def faces_root() -> Path:
    """The face photos folder: $EZSHOP_FACES, else ../shared/faces beside the checkout."""
    if os.environ.get(FACES_ENV):
        return Path(os.environ[FACES_ENV])
    root = Path(os.environ.get('EZSHOP_ROOT', '.')).resolve()
    return root.parent / 'shared' / 'faces'


def ros_home() -> Path:
    """$ROS_HOME, else ~/.ros (as ROS 2 itself resolves it)."""
    return Path(os.environ.get('ROS_HOME') or Path.home() / '.ros')


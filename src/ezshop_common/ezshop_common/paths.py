"""Where EZShop finds things a user may point elsewhere.

Face photos (layout ``<root>/dev/<identity>/<n>.jpg``, ``<root>/groups/``) come from one of:

1. ``$EZSHOP_FACES``: a folder the user chose (their own photos); when set it is the default.
2. the shipped photos: ``share/ezshop_common/faces`` (source: ``src/ezshop_common/faces``), all
   the demo, the shipped scenarios and the default tests need. The default otherwise.
3. the shared set: ``$EZSHOP_SHARED_FACES``, else ``../shared/faces`` beside the checkout, for
   what is not shipped (all group photos: bench/recognition.py). Never needed by default.

:func:`faces_root` is the default (1, else 2); :func:`faces_with` looks for given files in 1, 2
and 3 in that order.
"""

import os
from pathlib import Path

#: Environment variable naming the face photos folder to use instead of the shipped one.
FACES_ENV = 'EZSHOP_FACES'
#: Environment variable naming the shared, wider face photos folder (default ../shared/faces).
SHARED_FACES_ENV = 'EZSHOP_SHARED_FACES'
#: The package whose share folder holds the shipped photos, and their folder there.
FACES_PACKAGE = 'ezshop_common'
FACES_FOLDER = 'faces'


def shipped_faces() -> Path:
    """The photos shipped with EZShop: the installed share folder, else the source tree's."""
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory(FACES_PACKAGE)) / FACES_FOLDER
        if installed.is_dir():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    return Path(__file__).resolve().parent.parent / FACES_FOLDER


def shared_faces() -> Path:
    """The wider photo set: $EZSHOP_SHARED_FACES, else ../shared/faces beside the checkout."""
    if os.environ.get(SHARED_FACES_ENV):
        return Path(os.environ[SHARED_FACES_ENV])
    root = Path(os.environ.get('EZSHOP_ROOT', '.')).resolve()
    return root.parent / 'shared' / 'faces'


def faces_root() -> Path:
    """The face photos folder used by default: $EZSHOP_FACES, else the shipped photos."""
    if os.environ.get(FACES_ENV):
        return Path(os.environ[FACES_ENV])
    return shipped_faces()


def faces_with(*relative: str) -> Path | None:
    """The first of faces_root(), shipped_faces() and shared_faces() holding every given file
    or folder (paths relative to a faces folder, e.g. 'groups/dlib_bald_guys.jpg'), else None."""
    for root in (faces_root(), shipped_faces(), shared_faces()):
        if all((root / name).exists() for name in relative):
            return root
    return None


def ros_home() -> Path:
    """$ROS_HOME, else ~/.ros (as ROS 2 itself resolves it)."""
    return Path(os.environ.get('ROS_HOME') or Path.home() / '.ros')


#: The package holding the launch files and configuration (store.yaml, parameter files).
BRINGUP_PACKAGE = 'ezshop_bringup'


def config_dir() -> Path:
    """ezshop_bringup's config folder: the installed share when on the ament index, else the
    source tree under $EZSHOP_ROOT (or the current folder)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(BRINGUP_PACKAGE)) / 'config'
    except (ImportError, LookupError, ValueError):  # plain-Python use, outside a ROS install
        pass
    return Path(os.environ.get('EZSHOP_ROOT', '.')) / 'src' / BRINGUP_PACKAGE / 'config'

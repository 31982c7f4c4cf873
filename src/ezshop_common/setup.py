import os

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_common'
#: The shipped face photos (faces/), installed folder by folder into share/ezshop_common/faces.
FACES_FOLDER = 'faces'


def tree_data_files(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing every file under ``folder`` into the share folder."""
    entries = []
    for parent, _, files in sorted(os.walk(folder)):
        if files:
            entries.append((os.path.join('share', PACKAGE_NAME, parent),
                            sorted(os.path.join(parent, name) for name in files)))
    return entries


setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        *tree_data_files(FACES_FOLDER),
    ],
    install_requires=['setuptools', 'PyYAML'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='EZShop store description loader, shared paths and the shipped face photos.',
    license='Apache-2.0',
    entry_points={'console_scripts': []},
)

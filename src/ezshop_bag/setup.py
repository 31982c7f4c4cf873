from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_bag'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        # `ezshop record|replay|info` on PATH (colcon adds a package's bin/ to PATH).
        ('bin', ['scripts/ezshop']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='Record the store into rosbag2 MCAP bags and replay them into a store graph.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'record = ezshop_bag.record_node:console_main',
            'replay = ezshop_bag.replay_node:console_main',
            'ezshop = ezshop_bag.cli:console_main',
        ],
    },
)

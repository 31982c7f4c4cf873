from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_ros'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description="EZShop's ROS layer shared by every node: process start and shutdown, parameters declared from settings dataclasses, diagnostics, the topic contract, stamps.",
    license='Apache-2.0',
    entry_points={'console_scripts': []},
)

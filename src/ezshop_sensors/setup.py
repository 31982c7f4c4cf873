from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_sensors'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        ('share/' + PACKAGE_NAME + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='Shelf lane sensor drivers (gpiozero HC-SR04 and LDR) and the shelf monitor that turns readings into shelf events.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'lane_sensor_node = ezshop_sensors.lane_sensor_node:main',
            'shelf_monitor = ezshop_sensors.shelf_monitor_node:main',
            'temperature_monitor_node = ezshop_sensors.temperature_monitor_node:main',
            'temperature_sensor_node = ezshop_sensors.temperature_sensor_node:main',
        ],
    },
)

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_mqtt'

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
    description='MQTT bridge: lane controllers and temperature probes on MQTT in as ROS sensor readings; receipts, alerts and inventory mirrored out to MQTT.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'mqtt_bridge = ezshop_mqtt.bridge_node:console_main',
        ],
    },
)

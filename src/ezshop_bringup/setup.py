from glob import glob

from setuptools import setup

PACKAGE_NAME = 'ezshop_bringup'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=[],
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        ('share/' + PACKAGE_NAME + '/launch', glob('launch/*.launch.xml')),
        ('share/' + PACKAGE_NAME + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + PACKAGE_NAME + '/config/mosquitto', glob('config/mosquitto/*')),
        ('share/' + PACKAGE_NAME + '/rviz', glob('rviz/*.rviz')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='Launch files, parameter files, the store description and the rviz view of an '
                'EZShop store.',
    license='Apache-2.0',
)

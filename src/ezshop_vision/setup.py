from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_vision'

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
    description='Cameras (OpenCV), face detection, tracking and identification (face_recognition), entry/exit door decisions and enrolment.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'camera_node = ezshop_vision.camera_node:main',
            'face_node = ezshop_vision.face_node:main',
            'door_node = ezshop_vision.door_node:main',
            'enroll = ezshop_vision.enroll_cli:console_main',
        ],
    },
)

from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_sim'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        ('share/' + PACKAGE_NAME + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE_NAME + '/scenarios', glob('scenarios/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='A simulated store publishing the same topics as the real sensors and cameras, with ground truth, and the receipt-accuracy benchmark.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'sim_node = ezshop_sim.sim_node:main',
            'scenario_gen = ezshop_sim.generator:main',
            'referee = ezshop_sim.referee_node:console_main',
        ],
    },
)

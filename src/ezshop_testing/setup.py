from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_testing'

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
    description='EZShop test support and smoke-test fixture nodes.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'smoke_talker = ezshop_testing.smoke_talker:main',
            'smoke_listener = ezshop_testing.smoke_listener:main',
            'msg_echo = ezshop_testing.msg_echo:main',
            'with_domain = ezshop_testing.with_domain:main',
        ],
    },
)

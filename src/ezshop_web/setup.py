from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_web'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={PACKAGE_NAME: ['static/*', 'templates/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='Staff console and review queue of the store, served by web_node.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'web_node = ezshop_web.web_node:console_main',
            'staff_account = ezshop_web.staff_cli:console_main',
            'greeter_node = ezshop_web.greeter_node:console_main',
        ],
    },
)

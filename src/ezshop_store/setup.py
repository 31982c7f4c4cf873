from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = 'ezshop_store'

setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    # Alembic migrations (env.py, versions/*.py) ship as package modules; the template too.
    package_data={PACKAGE_NAME: ['migrations/script.py.mako']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        ('share/' + PACKAGE_NAME + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools', 'SQLAlchemy>=2.0', 'alembic', 'numpy'],
    zip_safe=False,  # Alembic reads migrations/ from the file system
    maintainer='EZShop developers',
    maintainer_email='dev@ezshop.invalid',
    description='Fusion (shelf event + nearest face track -> cart action) and the store node (SQLAlchemy: customers, stock, visits, carts, receipts).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'store_node = ezshop_store.store_node:main',
            'fusion_node = ezshop_store.fusion_node:main',
            'analytics_node = ezshop_store.analytics_node:main',
        ],
    },
)

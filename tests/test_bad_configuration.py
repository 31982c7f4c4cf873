"""Every node refuses a configuration it cannot work with the same way (ezshop_ros.process
run_node): one line naming the parameter or file, exit code 2, no traceback."""

import subprocess

import pytest
from ament_index_python.packages import get_package_prefix

from ezshop_ros.process import EXIT_BAD_CONFIGURATION

CASES = [
    ('ezshop_sensors', 'shelf_monitor', ['-p', 'shelves:=[shelf_nope]'], 'shelf_nope'),
    ('ezshop_vision', 'door_node', ['-p', 'door_id:=back_door'], 'door_id'),
    ('ezshop_store', 'fusion_node', ['-p', 'min_score:=7.0'], 'min_score'),
    ('ezshop_store', 'store_node', ['-p', 'store_file:=/nonexistent/store.yaml'],
     '/nonexistent/store.yaml'),
    ('ezshop_store', 'store_node', ['-p', 'database_url:=nosuchdb://nowhere/store'],
     'database_url'),
    ('ezshop_sim', 'sim_node', ['-p', 'scenario:=/nonexistent/scenario.yaml'],
     '/nonexistent/scenario.yaml'),
]


@pytest.mark.parametrize(('package', 'executable', 'params', 'named'), CASES,
                         ids=[f'{case[1]}-{case[2][1].split(":=")[0]}' for case in CASES])
def test_a_node_refuses_bad_configuration_with_a_clear_line_and_exit_code(
        package, executable, params, named):
    exe = f'{get_package_prefix(package)}/lib/{package}/{executable}'
    done = subprocess.run([exe, '--ros-args', *params], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == EXIT_BAD_CONFIGURATION, (done.stdout, done.stderr)
    assert 'bad configuration' in done.stderr and named in done.stderr, done.stderr
    assert 'Traceback' not in done.stderr, done.stderr

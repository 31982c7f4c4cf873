"""The installed sim_node executable: frames cross processes, it exits when told, bad input."""

from ament_index_python.packages import get_package_prefix

from ezshop_msgs.msg import GroundTruth
from ezshop_ros.topics import GROUND_TRUTH, IMAGE_RAW
from ezshop_testing.env import ros_env
from ezshop_testing.processes import ChildProcess

EXE = f"{get_package_prefix('ezshop_sim')}/lib/ezshop_sim/sim_node"


def test_sim_node_process_streams_frames_and_exits_when_done(ros, faces_root):
    probe = ros.node('sim_process_probe')
    frames, truth = [], []
    IMAGE_RAW.subscription(probe, frames.append, camera='cam_entrance')
    GROUND_TRUTH.subscription(probe, truth.append)
    child = ChildProcess([EXE, '--ros-args', '-p', 'scenario:=one_shopper',
                          '-p', 'time_scale:=4.0', '-p', 'fps:=5.0', '-p', 'on_done:=exit',
                          '-p', f'faces_dir:={faces_root}',
                          '-p', 'wait_for_subscribers:=[cameras/cam_entrance/image_raw]'],
                         env=ros_env())
    try:
        assert ros.spin_until(lambda: child.proc.poll() is not None, 40.0), child.output
        ros.spin_for(0.3)
        assert child.proc.returncode == 0, child.output
    finally:
        child.stop()
    assert 'SCENARIO_DONE' in child.output
    assert [m.kind for m in truth][-1] == GroundTruth.SCENARIO_DONE, child.output
    # one_shopper lasts ~18 scenario s at 5 fps: ~89 frames; best effort across processes.
    assert len(frames) > 60, f'{len(frames)} frames arrived'
    assert all(len(f.data) == 640 * 480 * 3 for f in frames)


def test_bad_scenario_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('shoppers:\n  - identity: obama\n    actions: [{take: 0}, exit]\n')
    child = ChildProcess([EXE, '--ros-args', '-p', f'scenario:={bad}'], env=ros_env())
    try:
        assert child.wait_for_line('SimNode: bad configuration:', 20.0), child.output
        assert child.proc.wait(timeout=20) == 2
    finally:
        child.stop()
    assert 'shoppers[0].actions[0].take: must be >= 1' in child.output
    assert 'Traceback' not in child.output

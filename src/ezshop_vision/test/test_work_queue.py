"""CameraQueue: which camera a free face_node worker processes next."""

import threading
import time

from ezshop_vision.work_queue import CameraQueue


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _queue():
    clock = _Clock()
    return CameraQueue(clock), clock


def test_the_camera_waiting_longest_goes_first():
    queue, clock = _queue()
    for camera in ('shelf_b', 'entrance', 'shelf_a'):
        queue.ready(camera)
        clock.now += 0.01
    assert [queue.take(0) for _ in range(3)] == ['shelf_b', 'entrance', 'shelf_a']
    assert queue.take(0) is None


def test_a_new_frame_keeps_the_camera_s_place():
    queue, clock = _queue()
    queue.ready('shelf_a')
    clock.now = 1.0
    queue.ready('entrance')
    clock.now = 2.0
    queue.ready('shelf_a')  # a newer frame replaced the one waiting
    assert queue.take(0) == 'shelf_a'


def test_a_camera_is_processed_by_one_worker_at_a_time():
    queue, clock = _queue()
    queue.ready('shelf_a')
    assert queue.take(0) == 'shelf_a'
    clock.now = 1.0
    queue.ready('shelf_a')  # a frame came while the first worker works on the last one
    queue.ready('entrance')
    assert queue.take(0) == 'entrance'  # not shelf_a: it is held
    assert queue.take(0) is None
    queue.done('shelf_a')
    assert queue.take(0) == 'shelf_a'


def test_two_workers_never_hold_one_camera_at_once():
    """Two workers, frames of two cameras arriving all the time: each camera is worked on by
    one worker at a time (its pipeline keeps state), and every frame's camera gets worked on."""
    queue = CameraQueue()
    holding = {'shelf_a': 0, 'shelf_b': 0}
    most = {'shelf_a': 0, 'shelf_b': 0}
    worked = []
    lock = threading.Lock()

    def worker():
        while True:
            camera = queue.take(timeout=5.0)
            if camera is None:
                return
            with lock:
                holding[camera] += 1
                most[camera] = max(most[camera], holding[camera])
            time.sleep(0.001)  # the frame's work
            with lock:
                holding[camera] -= 1
                worked.append(camera)
            queue.done(camera)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for i in range(300):
        queue.ready('shelf_a' if i % 3 else 'shelf_b')
        time.sleep(0.0002)
    deadline = time.monotonic() + 10.0
    while queue.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close()
    for thread in threads:
        thread.join(timeout=5.0)
    assert not any(t.is_alive() for t in threads)
    assert queue.waiting() == 0
    assert set(worked) == {'shelf_a', 'shelf_b'}
    assert most == {'shelf_a': 1, 'shelf_b': 1}


def test_take_waits_for_work_and_close_wakes_it():
    queue = CameraQueue()
    got = []
    thread = threading.Thread(target=lambda: got.append(queue.take()))
    thread.start()
    queue.ready('exit')
    thread.join(timeout=5.0)
    assert got == ['exit']
    thread = threading.Thread(target=lambda: got.append(queue.take()))
    thread.start()
    queue.close()
    thread.join(timeout=5.0)
    assert not thread.is_alive() and got == ['exit', None]


def test_a_head_start_goes_before_cameras_that_waited_less_longer():
    queue, clock = _queue()
    queue.ready('entrance')
    clock.now = 0.2
    queue.ready('shelf_a', head_start_s=0.3)  # a face at a lane, not named yet
    clock.now = 0.25
    queue.ready('shelf_b')
    assert [queue.take(0) for _ in range(3)] == ['shelf_a', 'entrance', 'shelf_b']


def test_a_head_start_is_not_more_than_its_seconds():
    queue, clock = _queue()
    queue.ready('entrance')
    clock.now = 0.5
    queue.ready('shelf_a', head_start_s=0.3)  # the door has waited 0.5 s: it goes first
    assert [queue.take(0) for _ in range(2)] == ['entrance', 'shelf_a']


def test_a_head_start_moves_a_waiting_camera_ahead_but_never_back():
    queue, clock = _queue()
    queue.ready('shelf_a')
    clock.now = 0.1
    queue.ready('entrance')
    clock.now = 0.2
    queue.ready('shelf_b')
    queue.ready('shelf_b', head_start_s=0.3)  # its newer frame has a face at a lane
    queue.ready('shelf_a', head_start_s=0.0)  # a newer frame keeps its place
    assert [queue.take(0) for _ in range(3)] == ['shelf_b', 'shelf_a', 'entrance']

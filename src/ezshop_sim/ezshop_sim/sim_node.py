"""sim_node: plays a scenario and publishes what the store's cameras and lane sensors would.

Thin ROS wrapper around the plain-Python simulator (scenario, world, render, lanes): camera
frames and camera_info for every camera of the store file, a Range or Illuminance reading for
every lane, sim/ground_truth (every entry, take, put-back and exit, then SCENARIO_DONE), and
/diagnostics. Stamps are the scenario time each frame/reading/event represents, on the node's
clock (honours use_sim_time) from the moment the scenario clock starts. Each camera keeps its
recent past for a face node that restarts (cameras/<cam>/recent_frames), as camera_node does.
"""

from __future__ import annotations

import math
import sys
import time

from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo

from ezshop_common.store_config import SENSOR_ULTRASONIC, load_store
from ezshop_mqtt.broker import BrokerSettings
from ezshop_mqtt.devices import SimulatedDevices
from ezshop_mqtt.readings import KIND_TEMPERATURE, lane_kind
from ezshop_msgs.msg import GroundTruth
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, task
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import EXIT_OK, run_node, spin_once
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import (
    CAMERA_INFO,
    CLOCK,
    GROUND_TRUTH,
    IMAGE_RAW,
    TEMPERATURE,
    lane_fields,
    lane_reading,
)
from ezshop_sensors.messages import illuminance_msg, range_msg
from ezshop_sensors.temperature_messages import temperature_msg
from ezshop_sim.fridges import RATE_HZ as FRIDGE_RATE_HZ
from ezshop_sim.fridges import FridgeModel
from ezshop_sim.lanes import lane_signals
from ezshop_sim.photos import identities_dir, split_photos
from ezshop_sim.render import FrameRenderer
from ezshop_sim.scenario import load_scenario
from ezshop_sim.sim_settings import SimSettings
from ezshop_sim.world import build_world
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.recent_frames import RecentFrames, RecentFramesSettings
from ezshop_vision.recent_frames_service import RecentFramesServer

GT_KINDS = {'ENTERED': GroundTruth.ENTERED, 'EXITED': GroundTruth.EXITED,
            'TAKE': GroundTruth.TAKE, 'PUT_BACK': GroundTruth.PUT_BACK,
            'SCENARIO_DONE': GroundTruth.SCENARIO_DONE}
#: At most this many readings per lane are caught up in one timer tick (the rest are skipped).
MAX_CATCH_UP = 30


class SimNode(Node):
    """Publishes a simulated store: camera frames, lane readings, ground truth."""

    def __init__(self, **kwargs):
        super().__init__('sim_node', **kwargs)
        self._cfg = cfg = declare_settings(self, SimSettings)

        self.scenario = load_scenario(cfg.scenario)
        self.seed = self.scenario.seed if cfg.seed < 0 else cfg.seed
        store_file = cfg.store_file or self.scenario.store_file
        self.store = load_store(store_file)
        folder = identities_dir(cfg.faces_dir or None, cfg.faces_subdir or None)
        photos = {i: list(split_photos(folder, i).appearance) for i in self.scenario.identities}
        self.world = build_world(self.scenario, self.store, photos)
        self.renderer = FrameRenderer(self.world, self.seed)
        self.signals = lane_signals(self.world, self.seed, cfg.rate_hz)

        recent_settings = declare_settings(self, RecentFramesSettings)
        self._cameras = []
        for camera in self.store.cameras:
            self._cameras.append((camera,
                                  IMAGE_RAW.publisher(self, camera=camera.camera_id),
                                  CAMERA_INFO.publisher(self, camera=camera.camera_id),
                                  _camera_info(camera),
                                  RecentFramesServer(self, camera.camera_id, camera.frame_id,
                                                     RecentFrames(recent_settings))))
        broker = declare_settings(self, BrokerSettings, prefix='mqtt.')
        self._devices = None
        if cfg.lane_transport == 'mqtt':
            self._devices = SimulatedDevices(broker, cfg.mqtt_store_id,
                                             f'ezshop_sim_lanes_{cfg.mqtt_store_id}').start()
            self.get_logger().info(f'lane sensors and probes play MQTT controllers on '
                                   f'{broker.broker_url} (store {cfg.mqtt_store_id})')
        self._lanes = []
        for signal in self.signals:
            lane = signal.lane
            pub = None if self._devices else lane_reading(lane).publisher(self,
                                                                          **lane_fields(lane))
            self._lanes.append((signal, pub, 0))
        self._gt_pub = GROUND_TRUTH.publisher(self)
        # Fridges and freezers: every unit of the store file, whatever its real probe.
        self._fridges = [(FridgeModel(fridge, self.scenario.fridge_doors, self.seed),
                          None if self._devices else TEMPERATURE.publisher(
                              self, fridge=fridge.fridge_id))
                         for fridge in self.store.fridges]
        self._next_fridge_k = 0
        self._clock_pub = CLOCK.publisher(self) \
            if cfg.publish_clock else None

        self.state = 'waiting'
        self._idle_k = 0
        self.finished = False
        self._created = time.monotonic()
        self._ready_at: float | None = None
        self._start_mono = 0.0
        self._epoch_ns = 0
        self._next_frame = 0
        self._next_event = 0
        self._counts = {'frames_published': 0, 'frames_skipped': 0, 'readings_published': 0,
                        'readings_skipped': 0, 'readings_silent': 0,
                        'ground_truth_published': 0, 'idle_readings_published': 0}
        self._wait_timed_out = False
        scale = cfg.time_scale
        self.create_timer(0.02, self._control)
        self.create_timer(1.0 / (cfg.fps * scale), self._publish_frames)
        self.create_timer(1.0 / (cfg.rate_hz * scale), self._publish_readings)
        if self._fridges:
            self.create_timer(1.0 / (FRIDGE_RATE_HZ * scale), self._publish_temperatures)
        self._diagnostics = diagnostics_updater(self, 'ezshop_sim')
        self._diagnostics.add('simulator', task(self._simulator_status))
        self.get_logger().info(
            f'scenario {self.scenario.name!r} (seed {self.seed}): '
            f'{len(self.scenario.shoppers)} shoppers, {self.world.end_s:.1f} s simulated, '
            f'{len(self._cameras)} cameras, {len(self._lanes)} lanes; photos from {folder}')

    # --- the scenario clock ----------------------------------------------------------------
    def sim_time(self) -> float:
        """Scenario seconds since the scenario clock started (0 before)."""
        if self.state == 'waiting':
            return 0.0
        return (time.monotonic() - self._start_mono) * self._cfg.time_scale

    def stamp_ns(self, t: float) -> int:
        """The stamp of scenario second t (ns on the node's clock)."""
        return self._epoch_ns + int(round(t * 1e9))

    def _waiting_for(self) -> list[str]:
        missing = [topic for topic in self._cfg.wait_for_subscribers
                   if topic and self.count_subscribers(topic) == 0]
        if self._devices is not None and not self._devices.bridge_online.is_set():
            missing.append('mqtt_bridge online')  # its retained status on the broker
        return missing

    def _control(self) -> None:
        now = time.monotonic()
        if self.state == 'waiting':
            if self._ready_at is None:
                missing = self._waiting_for()
                if missing and now - self._created < self._cfg.wait_timeout_s:
                    return
                if missing:
                    self._wait_timed_out = True
                    self.get_logger().warning(
                        f'starting without subscribers on: {", ".join(missing)} '
                        f'(waited {self._cfg.wait_timeout_s:.0f} s)')
                self._ready_at = now
            if now - self._ready_at < self._cfg.start_delay_s:
                return
            self._start()
        t = self.sim_time()
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=time_from_ns(self.stamp_ns(t))))
        events = self.world.events
        while self._next_event < len(events) and events[self._next_event].t <= t:
            self._publish_truth(events[self._next_event])
            self._next_event += 1
        if self.state == 'running' and self._next_event >= len(events):
            self.state = 'done'
            self.get_logger().info(f'scenario {self.scenario.name!r} done')
            if self._cfg.on_done == 'exit':
                self._gt_pub.wait_for_all_acked(Duration(seconds=5.0))
                self.finished = True

    def _start(self) -> None:
        self._epoch_ns = self.get_clock().now().nanoseconds
        self._start_mono = time.monotonic()
        self.state = 'running'
        self.get_logger().info(f'scenario {self.scenario.name!r} starts '
                               f'(time scale {self._cfg.time_scale})')

    def _publish_truth(self, event) -> None:
        msg = GroundTruth(kind=GT_KINDS[event.kind], shopper=event.shopper,
                          enrolled=event.enrolled, shelf_id=event.shelf_id,
                          lane_id=event.lane_id, item_id=event.item_id,
                          quantity=event.quantity)
        msg.header.stamp = time_from_ns(self.stamp_ns(event.t))
        msg.header.frame_id = 'store'
        self._gt_pub.publish(msg)
        self._counts['ground_truth_published'] += 1
        what = f' {event.item_id} x{event.quantity} at {event.shelf_id}/{event.lane_id}' \
            if event.item_id else ''
        who = f' {event.shopper}' + ('' if event.enrolled or not event.shopper
                                     else ' (not enrolled)')
        self.get_logger().info(f'[{event.t:6.1f} s] {event.kind}{who}{what}')

    # --- cameras and lanes -----------------------------------------------------------------
    def _publish_frames(self) -> None:
        if self.state == 'waiting':
            return
        fps = self._cfg.fps
        due = math.floor(self.sim_time() * fps + 1e-9)
        if due < self._next_frame:
            return
        self._counts['frames_skipped'] += (due - self._next_frame) * len(self._cameras)
        t = due / fps
        stamp = time_from_ns(self.stamp_ns(t))
        for camera, image_pub, info_pub, info, recent in self._cameras:
            frame = self.renderer.render(camera.camera_id, t, due)
            msg = cv2_to_imgmsg(frame, 'bgr8')
            msg.header.stamp = stamp
            msg.header.frame_id = camera.frame_id
            image_pub.publish(msg)
            info.header.stamp = stamp
            info_pub.publish(info)
            recent.recent.add(self.stamp_ns(t), frame)
            self._counts['frames_published'] += 1
        self._next_frame = due + 1

    def _publish_readings(self) -> None:
        if self.state == 'waiting':
            self._publish_idle_readings()
            return
        t_now = self.sim_time()
        for i, (signal, pub, next_k) in enumerate(self._lanes):
            due = math.floor((t_now - signal.phase) * signal.rate_hz + 1e-9)
            if due < next_k:
                continue
            if due - next_k >= MAX_CATCH_UP:
                self._counts['readings_skipped'] += due - next_k - MAX_CATCH_UP + 1
                next_k = due - MAX_CATCH_UP + 1
            for k in range(next_k, due + 1):
                reading = signal.reading(k)
                if reading is None:
                    self._counts['readings_silent'] += 1
                    continue
                self._send_reading(signal.lane, pub, reading, self.stamp_ns(reading.t))
                self._counts['readings_published'] += 1
            self._lanes[i] = (signal, pub, due + 1)

    def _publish_idle_readings(self) -> None:
        """Before the clock starts the shelves stand untouched: the lanes report their
        starting counts (stamped now), as real sensors would, so the shelf monitor knows them."""
        now_ns = self.get_clock().now().nanoseconds
        self._idle_k -= 1  # samples before the scenario: the same noise model, no shoppers
        for signal, pub, _ in self._lanes:
            reading = signal.reading(self._idle_k)
            if reading is None:
                continue
            self._send_reading(signal.lane, pub, reading, now_ns)
            self._counts['idle_readings_published'] += 1

    def _send_reading(self, lane, pub, reading, stamp_ns: int) -> None:
        """Out as the lane's real sensor would: a ROS message (pub), or an MQTT controller's
        reading (a failed reading, NaN, is not sent: such a controller has nothing to say)."""
        if pub is not None:
            pub.publish(self._reading_msg(lane, reading, stamp_ns))
        elif not math.isnan(reading.value):
            self._devices.publish(lane_kind(lane), lane.key, reading.value, stamp_ns / 1e9)

    def _reading_msg(self, lane, reading, stamp_ns: int):
        """The message the lane's real sensor node would publish (ezshop_sensors.messages)."""
        if lane.sensor == SENSOR_ULTRASONIC:
            geo = lane.ultrasonic
            return range_msg(stamp_ns, lane.frame_id, reading.value, geo.max_range_m,
                             geo.min_range_m)
        return illuminance_msg(stamp_ns, lane.frame_id, reading.value)

    def _publish_temperatures(self) -> None:
        """Every unit's probe at FRIDGE_RATE_HZ of scenario time, stamped at its reading;
        before the scenario clock starts, the closed units' temperature stamped now."""
        if self.state == 'waiting':
            now_ns = self.get_clock().now().nanoseconds
            for model, pub in self._fridges:
                self._send_temperature(model, pub, now_ns, model.cycle_c(0.0))
            return
        due = math.floor(self.sim_time() * FRIDGE_RATE_HZ + 1e-9)
        first = max(self._next_fridge_k, due - MAX_CATCH_UP + 1)
        for k in range(first, due + 1):
            t = k / FRIDGE_RATE_HZ
            for model, pub in self._fridges:
                self._send_temperature(model, pub, self.stamp_ns(t), model.temperature(t, k))
        self._next_fridge_k = max(self._next_fridge_k, due + 1)

    def _send_temperature(self, model, pub, stamp_ns: int, celsius: float) -> None:
        """Out as the unit's probe would: a ROS message (pub), or an MQTT probe's reading."""
        if pub is not None:
            pub.publish(temperature_msg(stamp_ns, model.fridge.frame_id, celsius))
        else:
            self._devices.publish(KIND_TEMPERATURE, (model.fridge.fridge_id,), celsius,
                                  stamp_ns / 1e9)

    def _simulator_status(self):
        level = OK
        message = self.state
        if self.state == 'waiting' and self._ready_at is None:
            message = 'waiting for subscribers: ' + ', '.join(self._waiting_for())
        if self._counts['frames_skipped'] or self._wait_timed_out:
            level = WARN
            message += ' (frames skipped)' if self._counts['frames_skipped'] else \
                ' (started without all subscribers)'
        return level, message, {
            'scenario': self.scenario.name, 'seed': self.seed,
            'sim_time_s': f'{self.sim_time():.2f}', 'end_s': f'{self.world.end_s:.2f}',
            'ground_truth_total': len(self.world.events), **self._counts,
            'recent_frames_served': sum(c[4].frames_served for c in self._cameras),
            'recent_frames_refused': sum(c[4].refused for c in self._cameras)}

    def destroy_node(self):
        if getattr(self, '_devices', None) is not None:
            self._devices.stop()
        return super().destroy_node()



def _camera_info(camera) -> CameraInfo:
    """A plain pinhole model (no distortion) for a simulated camera."""
    f = 0.9 * camera.width
    cx, cy = camera.width / 2.0, camera.height / 2.0
    info = CameraInfo(width=camera.width, height=camera.height, distortion_model='plumb_bob')
    info.d = [0.0] * 5
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = camera.frame_id
    return info


def play(node: SimNode) -> int:
    """Spin the simulator until its scenario has played out (or a stop signal)."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    while node.context.ok() and not node.finished:
        spin_once(executor, 0.1)
    return EXIT_OK


def main(args=None) -> int:
    return run_node(SimNode, args, run=play)


if __name__ == '__main__':
    sys.exit(main())

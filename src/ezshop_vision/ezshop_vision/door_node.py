"""door_node: one CustomerEvent per pass through an entrance or exit door.

Reads its door (role and camera) from the store file, listens to that camera's faces and
publishes customer_events (ENTERED / EXITED) plus an UNKNOWN_PERSON event and alert for a
close face nobody knows. Decisions are made by ezshop_vision.door_logic.
"""

from __future__ import annotations

from rclpy.node import Node

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import (
    ROLE_ENTRANCE,
    StoreConfigError,
    default_store_file,
    load_store,
)
from ezshop_msgs.msg import Alert, CustomerEvent, FaceArray
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, task
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import stamp_seconds
from ezshop_ros.topics import ALERTS, CUSTOMER_EVENTS, FACES
from ezshop_vision.door_logic import (
    KIND_PASS,
    DoorLogic,
    DoorSettings,
    FaceSeen,
    decision_event_id,
)


class DoorNode(Node):
    """cameras/<door camera>/faces -> customer_events, alerts."""

    def __init__(self, **kwargs):
        super().__init__('door_node', **kwargs)
        store_file = declare_read_only(self, 'store_file', '', 'Store description (YAML); '
                                       "empty = ezshop_bringup's config/store.yaml")
        self.door_id = declare_read_only(self, 'door_id', 'entrance', 'Door id in the store file')
        path = store_file or str(default_store_file())
        try:
            door = next(d for d in load_store(path).doors if d.door_id == self.door_id)
        except StoreConfigError as exc:
            raise ValueError(f'cannot read the store file: {exc}') from None
        except StopIteration:
            raise ValueError(f'door_id: door {self.door_id!r} is not in {path}') from None
        self.camera_id = door.camera_id
        self.kind = CustomerEvent.ENTERED if door.role == ROLE_ENTRANCE else CustomerEvent.EXITED
        self._logic = DoorLogic(declare_settings(self, DoorSettings,
                                                 on_change=self._on_settings))
        self._bad_messages = 0
        self._events_pub = CUSTOMER_EVENTS.publisher(self)
        self._alerts_pub = ALERTS.publisher(self)
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        FACES.subscription(self, self._on_faces, camera=self.camera_id)
        self._diagnostics = diagnostics_updater(self, self.camera_id)
        self._diagnostics.add(self.door_id, task(self._door_status))
        self.get_logger().info(f'door {self.door_id} ({door.role}) watching camera '
                               f'{self.camera_id}')

    def _on_settings(self, settings: DoorSettings) -> None:
        self._logic.settings = settings

    def _on_faces(self, msg: FaceArray) -> None:
        if not self._stamps.accept(msg.header.stamp, f'cameras/{self.camera_id}/faces'):
            return
        faces = []
        for face in msg.faces:
            if face.roi.height == 0 or face.roi.width == 0:
                self._bad_messages += 1
                self.get_logger().warning(f'face track {face.track_id} with an empty roi '
                                          'ignored', throttle_duration_sec=5.0)
                continue
            faces.append(FaceSeen(face.track_id, face.customer_id, float(face.roi.height),
                                  float(face.confidence)))
        for decision in self._logic.update(stamp_seconds(msg.header.stamp), faces):
            event = CustomerEvent(header=msg.header,
                                  event_id=decision_event_id(self.door_id, decision),
                                  door_id=self.door_id, camera_id=self.camera_id,
                                  customer_id=decision.customer_id,
                                  confidence=float(min(max(decision.confidence, 0.0), 1.0)))
            event.header.frame_id = msg.header.frame_id
            if decision.kind == KIND_PASS:
                event.kind = self.kind
                verb = 'entered' if self.kind == CustomerEvent.ENTERED else 'exited'
                self.get_logger().info(f'{decision.customer_id} {verb} (track '
                                       f'{decision.track_id})')
            else:
                event.kind = CustomerEvent.UNKNOWN_PERSON
                self._alerts_pub.publish(Alert(
                    header=msg.header, level=Alert.WARN, kind='unknown_person',
                    message=f'unknown person at door {self.door_id} (track '
                            f'{decision.track_id})',
                    refs=[event.event_id, self.door_id], source=self.get_name()))
                self.get_logger().warning(f'unknown person at {self.door_id} (track '
                                          f'{decision.track_id})')
            self._events_pub.publish(event)

    def _door_status(self):
        stats = self._logic.stats
        future = self._stamps.rising()
        level = WARN if self._bad_messages or future else OK
        message = future or (f'{self._bad_messages} malformed face(s)' if self._bad_messages
                             else 'ok')
        return (level, message, {
                    **self._stamps.values(),
                    'camera': self.camera_id,
                    'faces_seen': stats.faces,
                    'passes': stats.passes,
                    'passes_at_track_end': stats.passes_at_track_end,
                    'unknown_persons': stats.unknown_persons,
                    'suppressed_by_cooldown': stats.suppressed_by_cooldown,
                    'out_of_order_frames': stats.out_of_order,
                    'malformed_faces': self._bad_messages,
                    'active_tracks': self._logic.active_tracks})


def main(args=None) -> int:
    return run_node(DoorNode, args)

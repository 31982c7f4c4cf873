"""fusion_node's settings, in the units an operator sets (seconds), each described once.

`ezshop_ros.parameters.declare_settings` makes one ROS parameter per field. Dynamic fields are
thresholds and times the engine reads on every decision; the buffer's horizon is sized from
late_attribution_s and window_before_s at start, so those two are read once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.boxes import Box
from ezshop_common.settings import setting
from ezshop_common.store_config import StoreConfig
from ezshop_store import fusion_core as core
from ezshop_store.fusion_engine import EngineSettings, FusionEngine
from ezshop_store.presence import PresenceSettings

S = 1_000_000_000


def _ns(seconds: float) -> int:
    return int(round(seconds * S))


@dataclass(frozen=True)
class FusionSettings:
    """Everything fusion_node decides with; see docs/packages/ezshop_store.md for the why."""

    window_before_s: float = setting(
        1.5, 'Faces seen this long before a shelf event count (s)', 0.0, 10.0)
    window_after_s: float = setting(
        1.0, 'Faces seen this long after a shelf event count (s)', 0.0, 10.0, dynamic=True)
    decision_timeout_s: float = setting(
        1.0, 'Extra wait beyond window_after_s for late or missing camera frames before deciding '
        'with what has arrived (s)', 0.0, 30.0, dynamic=True)
    distance_scale_px: float = setting(
        30.0, 'Pixel distance from the reach zone at which a face counts exp(-1) of one inside '
        'it (px)', 1.0, 2000.0, dynamic=True)
    min_score: float = setting(
        0.15, 'Lowest score (0..1: near the zone for the whole window = 1) of a candidate',
        0.0, 1.0, dynamic=True)
    ambiguity_margin: float = setting(
        0.15, 'Best and second-best scores closer than this are ambiguous', 0.0, 1.0,
        dynamic=True)
    min_confidence: float = setting(
        0.15, 'A winner with a lower confidence (score x lead over the second) is held for '
        'staff, never charged', 0.0, 1.0, dynamic=True)
    min_reach_proximity: float = setting(
        0.9, 'A winner whose face never came this near the reach zone (proximity, 1 = inside '
        'it) in the window is held: the taker was a face the cameras missed', 0.0, 1.0,
        dynamic=True)
    late_naming: bool = setting(
        True, 'Also decide a held pick again when the unknown face nearest it is identified '
        'later, by the first name its track got after the window (not its newest: in crowds '
        'tracks change hands)', dynamic=True)
    late_min_confidence: float = setting(
        0.3, 'A late attribution needs at least this confidence (its names came after the '
        'window, on tracks that may have changed hands)', 0.0, 1.0, dynamic=True)
    ambiguous_policy: str = setting(
        core.POLICY_HOLD, 'What to do when ambiguous: hold (unattributed, for staff; default) '
        'or assign_best (charge the best, flag it)', dynamic=True)
    buffer_horizon_s: float = setting(
        20.0, 'Face frames older than this behind the newest are dropped; at least '
        'late_attribution_s + window_before_s (s)', 1.0, 300.0)
    late_attribution_s: float = setting(
        4.0, 'A held pick is decided again when one of its candidate faces is identified or '
        'becomes present within this time (s)', 0.0, 120.0)
    identity_wait_s: float = setting(
        900.0, 'A pick held because an unidentified face was nearest keeps its scores this '
        "long for that face's track to be named from its own faces (track_identities: the "
        "face node's visit memory matched them to a customer identified later) (s); 0 = never",
        0.0, 86400.0, dynamic=True)
    presence_min_confidence: float = setting(
        0.3, 'A face identified with at least this confidence is a sighting of the customer',
        0.0, 1.0, dynamic=True)
    late_entry_wait_s: float = setting(
        3.0, 'A customer seen at the entrance camera without an ENTERED from the door after '
        'this long gets a late entry (s)', 0.0, 60.0, dynamic=True)
    absent_checkout_s: float = setting(
        300.0, 'A customer not seen by any camera for this long is checked out as absent (s)',
        1.0, 86400.0, dynamic=True)
    exit_absent_checkout_s: float = setting(
        3.0, 'The same, when the last sighting was at an exit camera (s)', 0.5, 3600.0,
        dynamic=True)
    reentry_guard_s: float = setting(
        10.0, "Sightings at a door camera this soon after the customer's exit do not open a "
        'new visit (s)', 0.0, 600.0, dynamic=True)
    presence_retention_s: float = setting(
        120.0, 'Customers who left are remembered this long for late shelf events (s)',
        1.0, 3600.0, dynamic=True)

    def problems(self) -> list[str]:
        """What is wrong beyond each field's range (empty = usable)."""
        if self.ambiguous_policy not in core.AMBIGUOUS_POLICIES:
            return [f'ambiguous_policy {self.ambiguous_policy!r} is not one of '
                    f'{", ".join(core.AMBIGUOUS_POLICIES)}']
        return []

    def fusion_params(self) -> core.FusionParams:
        return core.FusionParams(
            window_before_ns=_ns(self.window_before_s), window_after_ns=_ns(self.window_after_s),
            distance_scale_px=self.distance_scale_px, min_score=self.min_score,
            ambiguity_margin=self.ambiguity_margin, ambiguous_policy=self.ambiguous_policy,
            min_confidence=self.min_confidence, late_min_confidence=self.late_min_confidence,
            min_reach_proximity=self.min_reach_proximity)

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            decision_timeout_ns=_ns(self.decision_timeout_s),
            buffer_horizon_ns=max(_ns(self.buffer_horizon_s),
                                  _ns(self.late_attribution_s) + _ns(self.window_before_s)),
            late_attribution_ns=_ns(self.late_attribution_s), late_naming=self.late_naming,
            identity_wait_ns=_ns(self.identity_wait_s))

    def engine(self, store: StoreConfig) -> FusionEngine:
        """A fusion engine with these settings for the store's cameras and reach zones."""
        def coverage(shelf_id: str, lane_id: str) -> dict[str, Box]:
            return {camera.camera_id: z.box
                    for camera, z in store.cameras_covering(shelf_id, lane_id)}

        return FusionEngine(self.fusion_params(), coverage,
                            {c.camera_id: c.role for c in store.cameras},
                            self.engine_settings(), self.presence_settings())

    def presence_settings(self) -> PresenceSettings:
        return PresenceSettings(
            min_confidence=self.presence_min_confidence,
            late_entry_wait_ns=_ns(self.late_entry_wait_s),
            absent_checkout_ns=_ns(self.absent_checkout_s),
            exit_absent_checkout_ns=_ns(self.exit_absent_checkout_s),
            reentry_guard_ns=_ns(self.reentry_guard_s),
            retention_ns=_ns(self.presence_retention_s))

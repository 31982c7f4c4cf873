"""sim_node's settings, each described once (declared by ezshop_ros.parameters). A scenario is
played as it was configured at start: every setting is read once (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting

#: What sim_node does after SCENARIO_DONE.
ON_DONE_CHOICES = ('idle', 'exit')
#: How lane readings leave the simulator.
LANE_TRANSPORTS = ('ros', 'mqtt')


@dataclass(frozen=True)
class SimSettings:
    scenario: str = setting('demo', 'shipped scenario name, or path to a scenario YAML file')
    seed: int = setting(-1, 'random seed; -1 = the seed written in the scenario', -1, 2**31 - 1)
    faces_dir: str = setting('', "faces folder; '' = $EZSHOP_FACES, else the shipped photos")
    faces_subdir: str = setting('dev', "subfolder of faces_dir holding <identity>/ folders "
                                "('' = faces_dir itself)")
    store_file: str = setting('', "store layout; '' = the scenario's, else $EZSHOP_STORE_FILE "
                              "or ezshop_bringup's config/store.yaml")
    fps: float = setting(10.0, 'camera frames per second (per camera)', 1.0, 30.0)
    rate_hz: float = setting(15.0, 'lane sensor readings per second (per lane)', 1.0, 50.0)
    lane_transport: str = setting('ros', "how lane readings leave: 'ros' (their topics, as a "
                                  "Pi's lane_sensor_node) or 'mqtt' (as MQTT lane controllers, "
                                  'for mqtt_bridge; broker in the mqtt.* parameters)')
    mqtt_store_id: str = setting('default', "with lane_transport 'mqtt': the store in the MQTT "
                                 'topic names (mqtt_bridge store_id)')
    time_scale: float = setting(1.0, 'scenario seconds per wall-clock second', 0.1, 10.0)
    start_delay_s: float = setting(0.0, 'wait this long (wall clock) before the scenario clock '
                                   'starts, after wait_for_subscribers', 0.0, 600.0)
    wait_for_subscribers: list = setting(
        [''], 'topics that must each have a subscriber before the scenario clock starts '
        "(empty entries ignored), e.g. ['cameras/cam_entrance/image_raw', 'shelf_events']")
    wait_timeout_s: float = setting(30.0, 'start anyway after waiting this long for '
                                    'subscribers (a warning is logged)', 0.0, 3600.0)
    on_done: str = setting('idle', "after SCENARIO_DONE: 'idle' keeps publishing an empty "
                           "store, 'exit' ends the process")
    publish_clock: bool = setting(False, 'publish /clock (scenario time) for use_sim_time '
                                  'nodes; useful with time_scale != 1')

    def problems(self) -> list[str]:
        if self.lane_transport not in LANE_TRANSPORTS:
            return [f"lane_transport must be 'ros' or 'mqtt' (got {self.lane_transport!r})"]
        if self.on_done not in ON_DONE_CHOICES:
            return [f"on_done must be 'idle' or 'exit' (got {self.on_done!r})"]
        return []

"""Who may do what on the store graph: one row per node executable, as data, and the DDS
Security permissions made from them (what SROS2's policy -> permissions.xml conversion makes).

A row lists every endpoint the node really creates (tests/test_node_permissions.py starts the
nodes and compares their endpoints with their rows), in the names the code uses:

- relative (`shelf_events`): in the node's namespace;
- private (`~/get_snapshot`): under the node's own name;
- absolute (`/diagnostics`).

`{camera}`, `{shelf}`, `{lane}` and `{fridge}` are filled in from the store file (`{fridge}`:
every fridge and freezer): every camera and lane of
the store, or the instance's own (a door's camera, a camera node's camera, a lane sensor's
shelf). `{reading}` is a lane's reading topic: range for an ultrasonic lane, illuminance for a
light lane. Every node also has what every rclpy node has (EVERY_NODE: /rosout,
/parameter_events, the parameter and type description services) and may follow /clock
(use_sim_time).

    nodes = store_graph(load_store(), namespace='/')
    permissions_xml(nodes[0], domain_id=0, not_before=..., not_after=...)

The DDS names are rmw_fastrtps's (as in sros2's permissions.xsl): a topic `rt<fqn>`, a
service's request `rq<fqn>Request` and reply `rr<fqn>Reply`. A node that serves a service
publishes its replies and reads its requests; a client the other way round.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane, StoreConfig
from ezshop_ros import topics
from ezshop_ros.gallery import GET_GALLERY_SERVICE

#: Every enclave of the store graph is under this path (an enclave per node).
ENCLAVE_ROOT = '/ezshop'
#: What a node's lane fields range over: all of the store's, or the instance's own.
ALL = 'all'
OWN = 'own'
#: A lane's reading topic (range or illuminance, by its sensor).
LANE_READING = 'shelves/{shelf}/{lane}/{reading}'
#: The parameter services every rclpy node serves (and Jazzy's type description service).
NODE_SERVICES = ('~/describe_parameters', '~/get_parameter_types', '~/get_parameters',
                 '~/get_type_description', '~/list_parameters', '~/set_parameters',
                 '~/set_parameters_atomically')
#: The store's services (store_node).
STORE_SERVICES = ('register_customer', 'forget_customer', 'get_cart', 'checkout', 'set_stock',
                  'resolve_action', 'get_review_queue', 'export_customer')
GET_GALLERY = GET_GALLERY_SERVICE
RECENT_FRAMES = 'cameras/{camera}/recent_frames'  # ezshop_vision.recent_frames_service
GET_SNAPSHOT = '~/get_snapshot'  # face_node


@dataclass(frozen=True)
class Endpoints:
    """What one node may do: topics it publishes and subscribes, services it serves and calls
    (names as the code writes them, see the module doc)."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    serve: tuple[str, ...] = ()
    call: tuple[str, ...] = ()

    def __add__(self, other: Endpoints) -> Endpoints:
        return Endpoints(self.publish + other.publish, self.subscribe + other.subscribe,
                         self.serve + other.serve, self.call + other.call)


#: What every rclpy node has: /rosout, /parameter_events, its parameter services; /clock
#: read under use_sim_time (every launch file passes use_sim_time to every node).
EVERY_NODE = Endpoints(publish=('/rosout', '/parameter_events'), subscribe=(topics.CLOCK.name,),
                       serve=NODE_SERVICES)
#: diagnostic_updater's writer (ezshop_ros.diagnostics).
DIAGNOSTICS = Endpoints(publish=(topics.DIAGNOSTICS.name,))
#: ezshop_ros.gallery.GalleryClient: the revision announcements and the store's get_gallery.
GALLERY_CLIENT = Endpoints(subscribe=(topics.GALLERY_REVISION.name,), call=(GET_GALLERY,))


@dataclass(frozen=True)
class Row:
    """One node executable: what its node may do, and what other nodes its process makes
    (one process, one enclave: SROS2 gives the enclave a profile per node)."""

    package: str
    executable: str
    #: The node's name in the code (a launch file may rename it: door_entrance).
    node: str
    endpoints: Endpoints
    #: Which cameras / lanes the {camera} / {shelf}{lane} fields range over (ALL or OWN).
    cameras: str = ALL
    lanes: str = ALL
    #: Further nodes of the same process: (name, endpoints); EVERY_NODE is added to each.
    helpers: tuple[tuple[str, Endpoints], ...] = ()
    #: Not a store node but a command line tool (enclave for an operator's machine).
    tool: bool = False


def _row(package: str, executable: str, node: str, endpoints: Endpoints, **kwargs) -> Row:
    return Row(package, executable, node, EVERY_NODE + endpoints, **kwargs)


#: The rows: every endpoint each node creates (read from its source; checked by
#: tests/test_node_permissions.py against the running nodes).
ROWS: tuple[Row, ...] = (
    _row('ezshop_sensors', 'lane_sensor_node', 'lane_sensor_node', DIAGNOSTICS + Endpoints(
        publish=(LANE_READING,)), lanes=OWN),
    _row('ezshop_sensors', 'shelf_monitor', 'shelf_monitor', DIAGNOSTICS + Endpoints(
        publish=(topics.SHELF_EVENTS.name, topics.SHELF_STATE.name, topics.ALERTS.name),
        subscribe=(LANE_READING,))),
    _row('ezshop_sensors', 'temperature_sensor_node', 'temperature_sensor_node',
         DIAGNOSTICS + Endpoints(publish=(topics.TEMPERATURE.name,))),
    _row('ezshop_sensors', 'temperature_monitor_node', 'temperature_monitor',
         DIAGNOSTICS + Endpoints(publish=(topics.ALERTS.name,),
                                 subscribe=(topics.TEMPERATURE.name,))),
    _row('ezshop_mqtt', 'mqtt_bridge', 'mqtt_bridge', DIAGNOSTICS + Endpoints(
        publish=(LANE_READING, topics.TEMPERATURE.name),
        subscribe=(topics.RECEIPTS.name, topics.ALERTS.name, topics.INVENTORY.name))),
    _row('ezshop_vision', 'camera_node', 'camera_node', DIAGNOSTICS + Endpoints(
        publish=(topics.IMAGE_RAW.name, topics.CAMERA_INFO.name), serve=(RECENT_FRAMES,)),
        cameras=OWN),
    _row('ezshop_vision', 'face_node', 'face_node', DIAGNOSTICS + GALLERY_CLIENT + Endpoints(
        publish=(topics.FACES.name, topics.IMAGE_ANNOTATED.name, topics.TRACK_IDENTITIES.name),
        subscribe=(topics.IMAGE_RAW.name,), serve=(GET_SNAPSHOT,), call=(RECENT_FRAMES,))),
    _row('ezshop_vision', 'door_node', 'door_node', DIAGNOSTICS + Endpoints(
        publish=(topics.CUSTOMER_EVENTS.name, topics.ALERTS.name),
        subscribe=(topics.FACES.name,)), cameras=OWN),
    _row('ezshop_store', 'fusion_node', 'fusion_node', DIAGNOSTICS + Endpoints(
        publish=(topics.CART_ACTIONS.name, topics.CUSTOMER_EVENTS.name, topics.ALERTS.name),
        subscribe=(topics.FACES.name, topics.SHELF_EVENTS.name, topics.CUSTOMER_EVENTS.name,
                   topics.CARTS.name, topics.TRACK_IDENTITIES.name))),
    _row('ezshop_store', 'store_node', 'store_node', DIAGNOSTICS + Endpoints(
        publish=(topics.CARTS.name, topics.RECEIPTS.name, topics.INVENTORY.name,
                 topics.ALERTS.name, topics.STORE_MARKERS.name, topics.GALLERY_REVISION.name),
        subscribe=(topics.CUSTOMER_EVENTS.name, topics.CART_ACTIONS.name,
                   topics.SHELF_EVENTS.name),
        serve=STORE_SERVICES + (GET_GALLERY,))),
    _row('ezshop_store', 'analytics_node', 'analytics_node', DIAGNOSTICS + Endpoints(
        publish=(topics.ANALYTICS.name,),
        subscribe=(topics.FACES.name, topics.CUSTOMER_EVENTS.name, topics.SHELF_EVENTS.name,
                   topics.CART_ACTIONS.name, topics.RECEIPTS.name))),
    _row('ezshop_web', 'web_node', 'web_node', DIAGNOSTICS + GALLERY_CLIENT + Endpoints(
        subscribe=(topics.CUSTOMER_EVENTS.name, topics.CARTS.name, topics.RECEIPTS.name,
                   topics.INVENTORY.name, topics.ALERTS.name, topics.DIAGNOSTICS.name,
                   topics.TEMPERATURE.name),
        call=('get_review_queue', 'resolve_action', 'set_stock', 'register_customer',
              'forget_customer', 'face_node/get_snapshot'))),
    _row('ezshop_web', 'greeter_node', 'greeter_node', DIAGNOSTICS + GALLERY_CLIENT + Endpoints(
        publish=(topics.ANNOUNCEMENTS.name,),
        subscribe=(topics.CUSTOMER_EVENTS.name, topics.RECEIPTS.name))),
    _row('ezshop_sim', 'sim_node', 'sim_node', DIAGNOSTICS + Endpoints(
        publish=(topics.IMAGE_RAW.name, topics.CAMERA_INFO.name, LANE_READING,
                 topics.TEMPERATURE.name, topics.GROUND_TRUTH.name, topics.CLOCK.name),
        serve=(RECENT_FRAMES,))),
    _row('ezshop_sim', 'referee', 'referee', GALLERY_CLIENT + Endpoints(
        subscribe=(topics.GROUND_TRUTH.name, topics.SHELF_EVENTS.name, topics.CART_ACTIONS.name,
                   topics.CUSTOMER_EVENTS.name, topics.RECEIPTS.name, topics.DIAGNOSTICS.name),
        call=('forget_customer',)),
        # The enrolment (ezshop_vision.enroll_cli.register_people).
        helpers=(('ezshop_enroll', Endpoints(call=('register_customer',))),)),
    # ezshop_bag.selection.RECORDED_PATTERNS (the default selection; `--topics` adds more).
    _row('ezshop_bag', 'record', 'ezshop_record', GALLERY_CLIENT + Endpoints(
        subscribe=(topics.IMAGE_RAW.name, topics.CAMERA_INFO.name, LANE_READING,
                   topics.TEMPERATURE.name, topics.FACES.name, topics.TRACK_IDENTITIES.name,
                   topics.SHELF_EVENTS.name,
                   topics.SHELF_STATE.name, topics.CUSTOMER_EVENTS.name,
                   topics.CART_ACTIONS.name, topics.CARTS.name, topics.RECEIPTS.name,
                   topics.INVENTORY.name, topics.GALLERY_REVISION.name, topics.ALERTS.name,
                   topics.GROUND_TRUTH.name))),
    # The inputs (`--topics inputs`, the default) and the clock.
    _row('ezshop_bag', 'replay', 'ezshop_replay', GALLERY_CLIENT + Endpoints(
        publish=(topics.IMAGE_RAW.name, topics.CAMERA_INFO.name, LANE_READING,
                 topics.TEMPERATURE.name, topics.CLOCK.name),
        subscribe=(topics.RECEIPTS.name,), call=('register_customer',))),
    # Command line tools an operator runs against a secured store.
    _row('ezshop_vision', 'enroll', 'ezshop_enroll', Endpoints(call=('register_customer',)),
         tool=True),
    _row('ezshop_bag', 'ezshop', 'ezshop_customer_cli', Endpoints(
        call=('export_customer', 'forget_customer')), tool=True),
)


def row(executable: str) -> Row:
    """The row of a node executable (unique by name among the rows)."""
    found = [r for r in ROWS if r.executable == executable]
    if len(found) != 1:
        raise KeyError(f'no single row for executable {executable!r}')
    return found[0]


@dataclass(frozen=True)
class Profile:
    """One node as it runs (SROS2's <profile ns= node=>): its names filled in."""

    namespace: str
    node: str
    publish: frozenset[str]
    subscribe: frozenset[str]
    serve: frozenset[str]
    call: frozenset[str]

    @property
    def fqn(self) -> str:
        return _delimited(self.namespace) + self.node

    def resolve(self, name: str) -> str:
        """A name as the code writes it, fully qualified (sros2's permissions.xsl rules)."""
        return resolve_name(name, self.namespace, self.node)


@dataclass(frozen=True)
class GraphNode:
    """A node instance of the graph and its enclave (one process: its node and helpers)."""

    row: Row
    name: str
    namespace: str
    profiles: tuple[Profile, ...]
    enclave: str

    def profile(self, node: str) -> Profile | None:
        return next((p for p in self.profiles if p.node == node), None)


def _delimited(namespace: str) -> str:
    return namespace if namespace.endswith('/') else namespace + '/'


def normalize_namespace(namespace: str) -> str:
    """'' / 'north' / '/north/' -> '/' / '/north' / '/north'."""
    stripped = namespace.strip().strip('/')
    return '/' + stripped


def resolve_name(name: str, namespace: str, node: str) -> str:
    """`~/x` -> <ns>/<node>/x, `x` -> <ns>/x, `/x` stays (as sros2's permissions.xsl)."""
    if name.startswith('/'):
        return name
    if name.startswith('~'):
        return _delimited(namespace) + node + name[1:]
    return _delimited(namespace) + name


def enclave_path(namespace: str, node: str) -> str:
    """The enclave of a node: /ezshop/<node>, /ezshop/<namespace>/<node> in a namespace."""
    namespace = normalize_namespace(namespace)
    return ENCLAVE_ROOT + ('' if namespace == '/' else namespace) + '/' + node


def camera_node_name(camera_id: str) -> str:
    """store.launch.xml's name of a camera's camera_node: cam_entrance -> camera_entrance."""
    return 'camera_' + camera_id.removeprefix('cam_')


def expand(name: str, cameras: Iterable[str], lanes: Iterable[Lane],
           fridges: Iterable[str] = ()) -> list[str]:
    """A row's name with its fields filled in, once per camera, lane or fridge it ranges
    over."""
    if '{fridge}' in name:
        return [name.format(fridge=fridge) for fridge in fridges]
    if '{camera}' in name:
        return [name.format(camera=camera) for camera in cameras]
    if '{reading}' in name:
        return [name.format(shelf=lane.shelf_id, lane=lane.lane_id,
                            reading='range' if lane.sensor == SENSOR_ULTRASONIC
                            else 'illuminance') for lane in lanes]
    if '{shelf}' in name or '{lane}' in name:
        return [name.format(shelf=lane.shelf_id, lane=lane.lane_id) for lane in lanes]
    return [name]


def make_profile(endpoints: Endpoints, namespace: str, node: str, cameras: Iterable[str],
            lanes: Iterable[Lane], fridges: Iterable[str] = ()) -> Profile:
    """A node's endpoints with their fields filled in and their names resolved."""
    cameras, lanes, fridges = tuple(cameras), tuple(lanes), tuple(fridges)

    def names(templates: tuple[str, ...]) -> frozenset[str]:
        return frozenset(resolve_name(n, namespace, node) for t in templates
                         for n in expand(t, cameras, lanes, fridges))
    return Profile(namespace, node, names(endpoints.publish), names(endpoints.subscribe),
                   names(endpoints.serve), names(endpoints.call))


def graph_node(row: Row, store: StoreConfig, namespace: str = '/', name: str = '',
               camera_id: str = '', shelf_id: str = '') -> GraphNode:
    """One instance of a row: named `name` (default the row's), its own camera or shelf."""
    namespace = normalize_namespace(namespace)
    name = name or row.node
    cameras = [camera_id] if row.cameras == OWN else [c.camera_id for c in store.cameras]
    lanes = [lane for lane in store.lanes if row.lanes == ALL or lane.shelf_id == shelf_id]
    fridges = [fridge.fridge_id for fridge in store.fridges]
    profiles = [make_profile(row.endpoints, namespace, name, cameras, lanes, fridges)]
    profiles += [make_profile(EVERY_NODE + endpoints, namespace, helper, cameras, lanes,
                              fridges)
                 for helper, endpoints in row.helpers]
    return GraphNode(row, name, namespace, tuple(profiles), enclave_path(namespace, name))


def store_graph(store: StoreConfig, namespace: str = '/', tools: bool = True
                ) -> list[GraphNode]:
    """Every node store.launch.xml and sim.launch.xml start for this store (named as they
    name them), the recorder and replay, and (tools) the operator's command line tools."""
    nodes = []
    for r in ROWS:
        if r.tool and not tools:
            continue
        if r.executable == 'door_node':
            nodes += [graph_node(r, store, namespace, f'door_{door.door_id}', door.camera_id)
                      for door in store.doors]
        elif r.executable == 'camera_node':
            nodes += [graph_node(r, store, namespace, camera_node_name(camera.camera_id),
                                 camera.camera_id) for camera in store.cameras]
        elif r.executable == 'lane_sensor_node':
            nodes += [graph_node(r, store, namespace, f'lane_sensor_{shelf.shelf_id}',
                                 shelf_id=shelf.shelf_id) for shelf in store.shelves]
        else:
            nodes.append(graph_node(r, store, namespace))
    return nodes


# -- DDS names and the permissions document ---------------------------------------------------

def topic_dds(fqn: str) -> str:
    return 'rt' + fqn


def request_dds(fqn: str) -> str:
    return 'rq' + fqn + 'Request'


def reply_dds(fqn: str) -> str:
    return 'rr' + fqn + 'Reply'


#: rmw_fastrtps's graph topic (rmw_dds_common), allowed to every participant as sros2 does
#: for the RMWs that use it.
ROS_DISCOVERY_TOPIC = 'ros_discovery_info'


@dataclass(frozen=True)
class DdsRule:
    """The DDS topics one participant may publish and subscribe."""

    publish: frozenset[str] = field(default_factory=frozenset)
    subscribe: frozenset[str] = field(default_factory=frozenset)


def dds_rule(node: GraphNode) -> DdsRule:
    """What a node's enclave may publish and subscribe, in DDS topic names."""
    publish, subscribe = set(), set()
    for p in node.profiles:
        publish |= {topic_dds(n) for n in p.publish}
        subscribe |= {topic_dds(n) for n in p.subscribe}
        publish |= {reply_dds(n) for n in p.serve} | {request_dds(n) for n in p.call}
        subscribe |= {request_dds(n) for n in p.serve} | {reply_dds(n) for n in p.call}
    return DdsRule(frozenset(publish), frozenset(subscribe))


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _allow_rule(grant: ET.Element, domain_id: int, publish: Iterable[str],
                subscribe: Iterable[str]) -> None:
    rule = _sub(grant, 'allow_rule')
    _sub(_sub(rule, 'domains'), 'id', str(domain_id))
    for tag, names in (('publish', publish), ('subscribe', subscribe)):
        names = sorted(set(names))
        if names:
            listed = _sub(_sub(rule, tag), 'topics')
            for name in names:
                _sub(listed, 'topic', name)


def permissions_xml(node: GraphNode, domain_id: int, not_before: str, not_after: str) -> bytes:
    """The enclave's permissions.xml, laid out as sros2 writes it (one grant named and with
    the subject CN=<enclave>, the certificate's validity, an allow rule, default DENY)."""
    root = ET.Element('dds', {
        'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
        'xsi:noNamespaceSchemaLocation':
            'http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd'})
    grant = _sub(_sub(root, 'permissions'), 'grant')
    grant.set('name', node.enclave)
    _sub(grant, 'subject_name', f'CN={node.enclave}')
    validity = _sub(grant, 'validity')
    _sub(validity, 'not_before', not_before)
    _sub(validity, 'not_after', not_after)
    rule = dds_rule(node)
    _allow_rule(grant, domain_id, rule.publish, rule.subscribe)
    _allow_rule(grant, domain_id, [ROS_DISCOVERY_TOPIC], [ROS_DISCOVERY_TOPIC])
    _sub(grant, 'default', 'DENY')
    ET.indent(root, space='  ')
    return ET.tostring(root, encoding='unicode').encode() + b'\n'


def governance_xml(domain_id: int) -> bytes:
    """sros2's default governance (policy/defaults/dds/governance.xml) for one domain: no
    unauthenticated participant, join and topic access control, everything encrypted."""
    return f'''<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/\
omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains>
        <id>{domain_id}</id>
      </domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>SIGN</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
'''.encode()

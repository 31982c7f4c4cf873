"""rosbag2's MCAP layout in plain Python (no rclpy): write a bag `ros2 bag info/play` accept,
read one back.

What rosbag2 (rosbag2_storage_mcap, Kilted) writes, and so what this module writes:

- a bag folder `<name>/` holding `<name>_0.mcap` and `metadata.yaml`;
- MCAP header profile `ros2`;
- one schema per message type: name `pkg/msg/Type`, encoding `ros2msg`, data = the type's .msg
  text followed by every dependency's, each after a `====...` line and `MSG: pkg/Type`
  (rosbag2_cpp's LocalMessageDefinitionSource, reproduced by `message_definition`);
- one channel per topic: message encoding `cdr`, metadata `offered_qos_profiles` (the
  publishers' QoS as YAML, metadata version 9: policy names, durations as sec/nsec) and
  `topic_type_hash` (REP-2011 `RIHS01_...`);
- messages: log time = when the recorder received it, publish time = when it was sent;
- at close a metadata record named `rosbag2` with `serialized_metadata` (the bag metadata as
  YAML, the same as metadata.yaml without its `rosbag2_bagfile_information` root), then the
  summary with statistics (rosbag2 reads message counts and times from it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer

#: rosbag2 metadata version written (Jazzy and Kilted write 9).
METADATA_VERSION = 9
STORAGE_ID = 'mcap'
PROFILE = 'ros2'
SERIALIZATION_FORMAT = 'cdr'
METADATA_RECORD = 'rosbag2'
METADATA_FILE = 'metadata.yaml'
#: RMW_DURATION_INFINITE, what DDS reports for "no deadline / lifespan / lease".
INFINITE_NS = 9223372036854775807
COMPRESSION = {'zstd': CompressionType.ZSTD, 'lz4': CompressionType.LZ4,
               'none': CompressionType.NONE}
DELIMITER = '=' * 80 + '\n'
_PACKAGE_TYPENAME = re.compile(r'^([a-zA-Z0-9_]+)/(?:msg/|srv/)?([a-zA-Z0-9_]+)$')
_MSG_FIELD_TYPE = re.compile(r'(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+')
_IDL_FIELD_TYPE = re.compile(r'(?:^|\n)#include\s+(?:"|<)([a-zA-Z0-9_/]+)\.idl(?:"|>)')
PRIMITIVE_TYPES = frozenset({
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string'})


class BagError(ValueError):
    """A bag that cannot be written or read, with the reason (a bad `bag` / `output` is a
    configuration the node refuses)."""


# -- QoS -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Qos:
    """One endpoint's QoS, with rosbag2's policy names ('keep_last', 'best_effort', ...)."""

    history: str = 'keep_last'
    depth: int = 10
    reliability: str = 'reliable'
    durability: str = 'volatile'
    deadline_ns: int = INFINITE_NS
    lifespan_ns: int = INFINITE_NS
    liveliness: str = 'automatic'
    liveliness_lease_duration_ns: int = INFINITE_NS
    avoid_ros_namespace_conventions: bool = False


def _duration(ns: int) -> dict:
    return {'sec': ns // 1_000_000_000, 'nsec': ns % 1_000_000_000}


def _nanoseconds(node: dict) -> int:
    return int(node['sec']) * 1_000_000_000 + int(node['nsec'])


def qos_to_dict(qos: Qos) -> dict:
    """A QoS as rosbag2 (metadata version 9) encodes it, keys in its order."""
    return {'history': qos.history, 'depth': qos.depth, 'reliability': qos.reliability,
            'durability': qos.durability, 'deadline': _duration(qos.deadline_ns),
            'lifespan': _duration(qos.lifespan_ns), 'liveliness': qos.liveliness,
            'liveliness_lease_duration': _duration(qos.liveliness_lease_duration_ns),
            'avoid_ros_namespace_conventions': qos.avoid_ros_namespace_conventions}


def qos_from_dict(node: dict) -> Qos:
    """Inverse of qos_to_dict."""
    return Qos(str(node['history']), int(node['depth']), str(node['reliability']),
               str(node['durability']), _nanoseconds(node['deadline']),
               _nanoseconds(node['lifespan']), str(node['liveliness']),
               _nanoseconds(node['liveliness_lease_duration']),
               bool(node['avoid_ros_namespace_conventions']))


def _dump(node) -> str:
    return yaml.safe_dump(node, sort_keys=False, default_flow_style=False, width=1_000_000)


def qos_yaml(profiles: Iterable[Qos]) -> str:
    """The channel's `offered_qos_profiles` text (serialize_rclcpp_qos_vector, version 9)."""
    return _dump([qos_to_dict(q) for q in profiles]).rstrip('\n')


def parse_qos_yaml(text: str) -> list[Qos]:
    """Inverse of qos_yaml; empty text = no profiles."""
    if not text.strip():
        return []
    return [qos_from_dict(node) for node in yaml.safe_load(text) or []]


# -- message definitions and type hashes ---------------------------------------------------
def ament_share(package: str) -> Path | None:
    """A package's share folder from the ament index, or None."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError:
        return None


@dataclass(frozen=True)
class MessageDefinition:
    """A schema as rosbag2 stores it: encoding 'ros2msg' / 'ros2idl' / 'unknown' and text."""

    encoding: str
    text: str


def _split_type(type_name: str) -> tuple[str, str]:
    match = _PACKAGE_TYPENAME.match(type_name)
    if not match:
        raise BagError(f'message type name not understood: {type_name!r}')
    return match.group(1), match.group(2)


def _dependencies(text: str, package: str, idl: bool) -> list[str]:
    if idl:
        return sorted({m.group(1) for m in _IDL_FIELD_TYPE.finditer(text)})
    found = set()
    for match in _MSG_FIELD_TYPE.finditer(text):
        name = match.group(1)
        if name in PRIMITIVE_TYPES:
            continue
        found.add(name if '/' in name else f'{package}/{name}')
    return sorted(found)


def message_definition(type_name: str,
                       find_share: Callable[[str], Path | None] = ament_share
                       ) -> MessageDefinition:
    """The full definition text of a message type, built exactly as rosbag2 builds it: the
    type's .msg, then each dependency not seen yet (sorted, depth first) after a delimiter;
    the .idl files when there is no .msg; 'unknown' and no text when neither is found."""

    def load(name: str, idl: bool) -> str:
        package, base = _split_type(name)
        share = find_share(package)
        path = None if share is None else share / 'msg' / (base + ('.idl' if idl else '.msg'))
        if path is None or not path.is_file():
            raise FileNotFoundError(name)
        return path.read_text()

    def full(name: str, idl: bool, seen: set[str], depth: int = 50) -> str:
        if depth <= 0:
            raise BagError(f'message definitions nest too deep below {type_name}')
        text = load(name, idl)
        package, _ = _split_type(name)
        for dependency in _dependencies(text, package, idl):
            if dependency not in seen:
                seen.add(dependency)
                text += '\n' + DELIMITER + ('IDL: ' if idl else 'MSG: ') + dependency + '\n'
                text += full(dependency, idl, seen, depth - 1)
        return text

    try:
        _split_type(type_name)
    except BagError:
        return MessageDefinition('unknown', '')
    try:
        return MessageDefinition('ros2msg', full(type_name, False, set()))
    except FileNotFoundError:
        pass
    try:
        return MessageDefinition(
            'ros2idl', DELIMITER + 'IDL: ' + type_name + '\n' + full(type_name, True, set()))
    except FileNotFoundError:
        return MessageDefinition('unknown', '')


def type_description_hash(type_name: str,
                          find_share: Callable[[str], Path | None] = ament_share) -> str:
    """The REP-2011 hash (`RIHS01_<hex>`) rosidl generated for a type (share/<pkg>/msg/
    <Type>.json, the hash the type support reports); '' when not installed."""
    try:
        package, base = _split_type(type_name)
    except BagError:
        return ''
    share = find_share(package)
    path = None if share is None else share / 'msg' / f'{base}.json'
    if path is None or not path.is_file():
        return ''
    full_name = f'{package}/msg/{base}'
    for entry in json.loads(path.read_text()).get('type_hashes', []):
        if entry.get('type_name') == full_name:
            return str(entry.get('hash_string', ''))
    return ''


# -- topics and metadata ---------------------------------------------------------------------
@dataclass
class TopicInfo:
    """One recorded topic (rosbag2's TopicMetadata plus its message count)."""

    name: str
    type: str
    offered_qos_profiles: list[Qos] = field(default_factory=list)
    type_description_hash: str = ''
    serialization_format: str = SERIALIZATION_FORMAT
    definition: MessageDefinition | None = None
    message_count: int = 0


def bag_metadata(topics: Iterable[TopicInfo], files: list[dict], start_ns: int, end_ns: int,
                 message_count: int, custom_data: dict[str, str] | None = None,
                 ros_distro: str = '') -> dict:
    """rosbag2's BagMetadata (version 9) as YAML-ready data, keys in rosbag2's order."""
    return {
        'version': METADATA_VERSION,
        'storage_identifier': STORAGE_ID,
        'duration': {'nanoseconds': max(0, end_ns - start_ns)},
        'starting_time': {'nanoseconds_since_epoch': start_ns},
        'message_count': message_count,
        'topics_with_message_count': [{
            'topic_metadata': {
                'name': t.name, 'type': t.type, 'serialization_format': t.serialization_format,
                'offered_qos_profiles': [qos_to_dict(q) for q in t.offered_qos_profiles],
                'type_description_hash': t.type_description_hash},
            'message_count': t.message_count} for t in topics],
        'compression_format': '',
        'compression_mode': '',
        'relative_file_paths': [f['path'] for f in files],
        'files': files,
        'custom_data': dict(custom_data) if custom_data else None,
        'ros_distro': ros_distro,
    }


def metadata_yaml(metadata: dict) -> str:
    """metadata.yaml's text (rosbag2's MetadataIo: the metadata under one root key)."""
    return _dump({'rosbag2_bagfile_information': metadata})


# -- writing ----------------------------------------------------------------------------------
class BagWriter:
    """Writes one rosbag2 bag folder with a single MCAP file. Not thread-safe."""

    def __init__(self, folder: str | Path, compression: str = 'zstd',
                 chunk_size: int = 4 * 1024 * 1024, library: str = 'ezshop_bag'):
        if compression not in COMPRESSION:
            raise BagError(f'compression must be one of {", ".join(COMPRESSION)} '
                           f'(got {compression!r})')
        self.folder = Path(folder)
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise BagError(f'{self.folder} exists already: choose a new bag folder')
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file_name = f'{self.folder.name}_0.mcap'
        self.path = self.folder / self.file_name
        self._stream = open(self.path, 'wb')
        self._mcap = Writer(self._stream, chunk_size=chunk_size,
                            compression=COMPRESSION[compression])
        self._mcap.start(profile=PROFILE, library=library)
        self.topics: dict[str, TopicInfo] = {}
        self._channels: dict[str, int] = {}
        self._schemas: dict[str, int] = {}
        self.message_count = 0
        self.bytes_written = 0
        self.start_ns: int | None = None
        self.end_ns = 0
        self.closed = False

    def add_topic(self, topic: TopicInfo) -> None:
        """Declare a topic (schema + channel) before its first message; once per name."""
        if topic.name in self.topics:
            return
        definition = topic.definition or MessageDefinition('unknown', '')
        schema_id = self._schemas.get(topic.type)
        if schema_id is None:
            schema_id = self._mcap.register_schema(topic.type, definition.encoding,
                                                   definition.text.encode())
            self._schemas[topic.type] = schema_id
        self._channels[topic.name] = self._mcap.register_channel(
            topic.name, topic.serialization_format, schema_id,
            {'offered_qos_profiles': qos_yaml(topic.offered_qos_profiles),
             'topic_type_hash': topic.type_description_hash})
        self.topics[topic.name] = topic

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int = 0,
              sequence: int = 0) -> None:
        """One serialized (CDR) message of a declared topic."""
        channel = self._channels.get(topic)
        if channel is None:
            raise BagError(f'unknown topic {topic!r}: add_topic first')
        self._mcap.add_message(channel, log_time_ns, data, publish_time_ns or log_time_ns,
                               sequence & 0xFFFFFFFF)
        self.topics[topic].message_count += 1
        self.message_count += 1
        self.bytes_written += len(data)
        self.start_ns = log_time_ns if self.start_ns is None else min(self.start_ns, log_time_ns)
        self.end_ns = max(self.end_ns, log_time_ns)

    def metadata(self, custom_data: dict[str, str] | None = None, ros_distro: str = '') -> dict:
        start = self.start_ns or 0
        files = [{'path': self.file_name,
                  'starting_time': {'nanoseconds_since_epoch': start},
                  'duration': {'nanoseconds': max(0, self.end_ns - start)},
                  'message_count': self.message_count}]
        return bag_metadata(self.topics.values(), files, start, self.end_ns,
                            self.message_count, custom_data, ros_distro)

    def close(self, custom_data: dict[str, str] | None = None, ros_distro: str = '') -> dict:
        """Write the rosbag2 metadata record, the summary and metadata.yaml; returns the
        metadata. Safe to call twice."""
        if self.closed:
            return self.metadata(custom_data, ros_distro)
        self.closed = True
        metadata = self.metadata(custom_data, ros_distro)
        self._mcap.add_metadata(METADATA_RECORD,
                                {'serialized_metadata': _dump(metadata).rstrip('\n')})
        self._mcap.finish()
        self._stream.close()
        (self.folder / METADATA_FILE).write_text(metadata_yaml(metadata))
        return metadata


# -- reading ----------------------------------------------------------------------------------
class BagMessage(NamedTuple):
    """One stored message: topic, CDR bytes, log and publish time (ns)."""

    topic: str
    data: bytes
    log_time_ns: int
    publish_time_ns: int


def mcap_files(path: str | Path) -> list[Path]:
    """The MCAP files of a bag folder (metadata.yaml's order) or of a single .mcap path."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BagError(f'{path}: no such bag folder or file')
    meta = path / METADATA_FILE
    if meta.is_file():
        info = yaml.safe_load(meta.read_text()).get('rosbag2_bagfile_information', {})
        files = [path / name for name in info.get('relative_file_paths', [])]
        if files and all(f.is_file() for f in files):
            return files
    files = sorted(path.glob('*.mcap'))
    if not files:
        raise BagError(f'{path}: no .mcap file in this folder')
    return files


class BagReader:
    """Reads a rosbag2 MCAP bag (folder or file): topics with QoS and hashes, the rosbag2
    metadata record, and the messages in log-time order."""

    def __init__(self, path: str | Path):
        self.files = mcap_files(path)
        self.topics: dict[str, TopicInfo] = {}
        self.metadata: dict = {}
        self.start_ns: int | None = None
        self.end_ns = 0
        self.message_count = 0
        for file in self.files:
            try:
                self._read_summary(file)
            except (McapError, EOFError, ValueError) as exc:
                raise BagError(f'{file}: not a complete MCAP file (was the recording cut '
                               f'short?): {exc}') from exc

    def _read_summary(self, file: Path) -> None:
        with open(file, 'rb') as stream:
            reader = make_reader(stream)
            if reader.get_header().profile != PROFILE:
                raise BagError(f'{file}: MCAP profile is not ros2')
            summary = reader.get_summary()
            if summary is None or summary.statistics is None:
                raise BagError(f'{file}: no summary (was the recording cut short?)')
            for record in reader.iter_metadata():
                if record.name == METADATA_RECORD and 'serialized_metadata' in record.metadata:
                    self.metadata = yaml.safe_load(record.metadata['serialized_metadata'])
            self._add_summary(summary)

    def _add_summary(self, summary) -> None:
        stats = summary.statistics
        if stats.message_count:
            self.start_ns = stats.message_start_time if self.start_ns is None \
                else min(self.start_ns, stats.message_start_time)
            self.end_ns = max(self.end_ns, stats.message_end_time)
        self.message_count += stats.message_count
        for channel_id, channel in summary.channels.items():
            schema = summary.schemas.get(channel.schema_id)
            topic = self.topics.get(channel.topic)
            if topic is None:
                topic = self.topics[channel.topic] = TopicInfo(
                    channel.topic, schema.name if schema else '',
                    parse_qos_yaml(channel.metadata.get('offered_qos_profiles', '')),
                    channel.metadata.get('topic_type_hash', ''), channel.message_encoding,
                    MessageDefinition(schema.encoding, schema.data.decode())
                    if schema else None)
            topic.message_count += stats.channel_message_counts.get(channel_id, 0)

    @property
    def custom_data(self) -> dict[str, str]:
        return dict(self.metadata.get('custom_data') or {})

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages of the given topics (all when None) in log-time order."""
        wanted = None if topics is None else list(topics)
        if wanted is not None and not wanted:
            return
        for file in self.files:
            with open(file, 'rb') as stream:
                for _, channel, message in make_reader(stream).iter_messages(
                        topics=wanted, log_time_order=True):
                    yield BagMessage(channel.topic, bytes(message.data), message.log_time,
                                     message.publish_time)

"""The project's Fast DDS profile (fastdds_localhost.xml) is one Fast DDS accepts, and it gives
service servers time to discover a client before answering it.

rmw_fastrtps loads the writer profile named "service" for every service's response writer and
waits up to its reliability max_blocking_time for the client's response reader to match; after
that the answer is dropped and the client waits forever. Fast DDS's 100 ms default lost an
enrolment on a busy two-core PC while two store graphs started (tests/test_two_stores.py)."""

import sys
from pathlib import Path

import pytest
from lxml import etree

#: rmw_fastrtps's profile name for service response writers (rmw_service.cpp).
SERVICE_PROFILE = 'service'
#: Shortest wait for a client's response reader we accept (s).
MIN_SERVICE_BLOCKING_S = 2.0


@pytest.fixture(scope='module')
def profile(config_dir):
    return etree.parse(str(config_dir / 'fastdds_localhost.xml'))


def _fastdds_schema() -> Path:
    schema = Path(sys.prefix) / 'share' / 'fastdds' / 'fastdds_profiles.xsd'
    if not schema.exists():
        pytest.skip(f'the installed Fast DDS ships no schema at {schema}')
    return schema


def test_the_profile_is_valid_for_the_installed_fast_dds(profile):
    schema = etree.XMLSchema(etree.parse(str(_fastdds_schema())))
    assert schema.validate(profile), schema.error_log


def test_service_servers_wait_for_a_slow_client_before_dropping_its_answer(profile):
    ns = {'dds': profile.getroot().nsmap[None]}
    (writer,) = profile.xpath(f'//dds:data_writer[@profile_name="{SERVICE_PROFILE}"]',
                              namespaces=ns)
    (blocking,) = writer.xpath('dds:qos/dds:reliability/dds:max_blocking_time', namespaces=ns)
    seconds = float(blocking.findtext('dds:sec', '0', ns)) + \
        float(blocking.findtext('dds:nanosec', '0', ns)) * 1e-9
    assert seconds >= MIN_SERVICE_BLOCKING_S
    # Only the response writers: a profile for every writer would also make publishers block
    # that long when a reliable history is full.
    assert not profile.xpath('//dds:data_writer[@is_default_profile="true"]', namespaces=ns)

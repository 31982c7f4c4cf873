"""DS18B20 drivers read real files in the kernel's w1_therm format from a folder the test
writes (the sysfs driver and w1thermsensor itself, pointed at that folder)."""

import pytest

from ezshop_sensors.temperature_drivers import (
    ProbeError,
    ProbePoller,
    ProbeSettings,
    SysfsProbe,
    W1ThermProbe,
    open_probe,
    parse_temperature_file,
    parse_w1_slave,
)

W1_ID = '28-0316a27c11ff'
#: What the kernel's w1_therm shows for a DS18B20 at 23.125 C and at -18.5 C.
SLAVE_23 = ('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n'
            '72 01 4b 46 7f ff 0e 10 57 t=23125\n')
SLAVE_MINUS_18 = ('d8 fe 4b 46 7f ff 08 10 fd : crc=fd YES\n'
                  'd8 fe 4b 46 7f ff 08 10 fd t=-18500\n')
SLAVE_CRC_NO = ('72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n'
                '72 01 4b 46 7f ff 0e 10 57 t=23125\n')
SLAVE_RESET = ('50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n'
               '50 05 4b 46 7f ff 0c 10 1c t=85000\n')


def device(tmp_path, w1_slave=None, temperature=None, w1_id=W1_ID):
    folder = tmp_path / w1_id
    folder.mkdir(exist_ok=True)
    if w1_slave is not None:
        (folder / 'w1_slave').write_text(w1_slave)
    if temperature is not None:
        (folder / 'temperature').write_text(temperature)
    return folder


def test_w1_slave_text_parses():
    assert parse_w1_slave(SLAVE_23) == 23.125
    assert parse_w1_slave(SLAVE_MINUS_18) == -18.5
    assert parse_temperature_file('-18500\n') == -18.5


@pytest.mark.parametrize(('parse', 'text'), [
    (parse_w1_slave, SLAVE_CRC_NO), (parse_w1_slave, SLAVE_RESET), (parse_w1_slave, ''),
    (parse_w1_slave, 'garbage'), (parse_w1_slave, '72 01 : crc=57 YES\n72 01 t=\n'),
    (parse_temperature_file, '85000\n'), (parse_temperature_file, '')])
def test_bad_files_are_probe_errors(parse, text):
    with pytest.raises(ProbeError):
        parse(text)


def test_sysfs_probe_reads_w1_slave_and_prefers_the_temperature_file(tmp_path):
    folder = device(tmp_path, w1_slave=SLAVE_MINUS_18)
    probe = SysfsProbe(W1_ID, str(tmp_path))
    assert probe.read() == -18.5
    (folder / 'temperature').write_text('-17250\n')
    assert probe.read() == -17.25


def test_sysfs_probe_gone_or_failing_is_a_probe_error(tmp_path):
    probe = open_probe('sysfs', W1_ID, str(tmp_path))
    with pytest.raises(ProbeError, match='No such file'):
        probe.read()
    device(tmp_path, w1_slave=SLAVE_CRC_NO)
    with pytest.raises(ProbeError, match='CRC'):
        probe.read()


def test_w1thermsensor_reads_the_same_files(tmp_path, monkeypatch):
    monkeypatch.setenv('W1THERMSENSOR_NO_KERNEL_MODULE', '1')
    probe = W1ThermProbe(W1_ID, str(tmp_path))
    with pytest.raises(ProbeError):  # not on the bus yet
        probe.read()
    device(tmp_path, w1_slave=SLAVE_MINUS_18)
    assert probe.read() == -18.5
    (tmp_path / W1_ID / 'w1_slave').write_text(SLAVE_RESET)
    with pytest.raises(ProbeError):
        probe.read()


def test_poller_keeps_the_newest_sample_and_counts_failures(tmp_path):
    device(tmp_path, w1_slave=SLAVE_23)
    clock = iter(range(1, 100))
    poller = ProbePoller({'freezer': SysfsProbe(W1_ID, str(tmp_path)),
                          'dairy': SysfsProbe('28-0000000000aa', str(tmp_path))},
                         1.0, lambda: next(clock))
    poller.read_all()
    sample = poller.latest('freezer')
    assert (sample.value_c, sample.stamp_ns) == (23.125, 1)
    assert poller.latest('dairy') is None and poller.failed_reads['dairy'] == 1
    poller.read_all()
    assert poller.latest('freezer').seq > sample.seq


def test_an_unknown_driver_is_refused():
    assert ProbeSettings(driver='spi').problems()
    assert not ProbeSettings().problems()

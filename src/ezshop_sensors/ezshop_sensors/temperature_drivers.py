"""DS18B20 fridge probes on a Raspberry Pi's 1-Wire bus (plain Python, no rclpy).

The kernel's w1_therm driver shows each probe as /sys/bus/w1/devices/<id>/ (e.g.
28-0316a2794cff): ``temperature`` (newer kernels: millidegrees C, one line) and ``w1_slave``
(two lines, the scratchpad bytes with the CRC check, then ``t=`` millidegrees):

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

Two drivers: ``sysfs`` reads these files itself (no dependency; the folder is a setting, so
tests point it at files they wrote), ``w1thermsensor`` uses that library (imported only when
chosen: it loads the w1 kernel modules at import unless W1THERMSENSOR_NO_KERNEL_MODULE=1).
A conversion takes up to 750 ms, so ``ProbePoller`` reads the probes in turns on a thread of
its own and keeps each one's newest sample, stamped when it was read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ezshop_common.settings import setting

#: Where the kernel shows 1-Wire devices.
W1_DEVICES_DIR = '/sys/bus/w1/devices'
DRIVER_SYSFS = 'sysfs'
DRIVER_W1THERMSENSOR = 'w1thermsensor'
DRIVERS = (DRIVER_SYSFS, DRIVER_W1THERMSENSOR)
#: A DS18B20 that lost power or was read before converting shows its power-on value.
POWER_ON_RESET_C = 85.0


class ProbeError(OSError):
    """A probe could not be read (gone, CRC failure, not converted); the reason says which."""


@dataclass(frozen=True)
class ProbeSettings:
    """temperature_sensor_node: how the probes are read."""

    driver: str = setting('sysfs', "'sysfs' reads <w1_dir>/<id>/temperature (or w1_slave) "
                          "itself; 'w1thermsensor' uses that library")
    w1_dir: str = setting(W1_DEVICES_DIR, "Folder of the kernel's 1-Wire devices")
    rate_hz: float = setting(0.5, 'Each probe is read this often (Hz); a DS18B20 converts in '
                             'up to 0.75 s', 0.01, 1.0)

    def problems(self) -> list[str]:
        if self.driver not in DRIVERS:
            return [f'driver must be one of {", ".join(DRIVERS)} (got {self.driver!r})']
        return []


def parse_w1_slave(text: str) -> float:
    """Degrees C from a w1_slave file's text; ProbeError on a CRC failure or a torn file."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or not lines[0].rstrip().endswith('YES'):
        raise ProbeError(f'CRC check failed or no reading: {text.strip()[:80]!r}')
    _, found, milli = lines[1].rpartition('t=')
    if not found:
        raise ProbeError(f'no t= in {lines[1][:80]!r}')
    return checked_celsius(_millidegrees(milli))


def parse_temperature_file(text: str) -> float:
    """Degrees C from a ``temperature`` file's text (millidegrees C)."""
    return checked_celsius(_millidegrees(text))


def _millidegrees(text: str) -> float:
    try:
        return int(text.strip()) / 1000.0
    except ValueError:
        raise ProbeError(f'not millidegrees: {text.strip()[:40]!r}') from None


def checked_celsius(value_c: float) -> float:
    """The reading, unless it is the power-on reset value (85 C: not converted)."""
    if value_c == POWER_ON_RESET_C:
        raise ProbeError('power-on reset value 85 C (probe not converted: power or wiring)')
    return value_c


class SysfsProbe:
    """A DS18B20 read from the kernel's files (``temperature``, else ``w1_slave``)."""

    def __init__(self, w1_id: str, w1_dir: str = W1_DEVICES_DIR):
        self.w1_id = w1_id
        self.folder = Path(w1_dir) / w1_id

    def read(self) -> float:
        temperature = self.folder / 'temperature'
        try:
            if temperature.exists():
                return parse_temperature_file(temperature.read_text())
            return parse_w1_slave((self.folder / 'w1_slave').read_text())
        except ProbeError:
            raise
        except OSError as exc:  # gone from the bus (ENOENT, ENODEV), or a bus error (EIO)
            raise ProbeError(f'{self.folder}: {exc.strerror or exc}') from None


class W1ThermProbe:
    """A DS18B20 through w1thermsensor (imported here, on hardware only). The library finds
    the probe at the first read and again after every failed one (unplugged, replugged)."""

    def __init__(self, w1_id: str, w1_dir: str = W1_DEVICES_DIR):
        self.w1_id = w1_id
        try:
            import w1thermsensor
        except Exception as exc:  # noqa: BLE001 - KernelModuleLoadError, ImportError
            raise ProbeError(f'w1thermsensor unusable: {exc}') from None
        self._library = w1thermsensor
        # The library reads W1ThermSensor.BASE_DIRECTORY; a subclass points it at w1_dir.
        self._sensor_class = type('W1ThermSensorAt', (w1thermsensor.W1ThermSensor,),
                                  {'BASE_DIRECTORY': Path(w1_dir)})
        family, _, self._serial = w1_id.partition('-')
        try:
            self._type = w1thermsensor.Sensor(int(family, 16))
        except ValueError:
            raise ProbeError(f'{w1_id}: family code {family!r} is no w1thermsensor '
                             'sensor type') from None
        self._sensor = None

    def read(self) -> float:
        try:
            if self._sensor is None:
                self._sensor = self._sensor_class(sensor_type=self._type,
                                                  sensor_id=self._serial)
            return checked_celsius(float(self._sensor.get_temperature()))
        except (self._library.W1ThermSensorError, OSError) as exc:
            self._sensor = None
            raise ProbeError(f'{self.w1_id}: {getattr(exc, "strerror", None) or exc}') \
                from None


def open_probe(driver: str, w1_id: str, w1_dir: str = W1_DEVICES_DIR):
    if driver == DRIVER_W1THERMSENSOR:
        return W1ThermProbe(w1_id, w1_dir)
    return SysfsProbe(w1_id, w1_dir)


@dataclass(frozen=True)
class ProbeSample:
    seq: int
    stamp_ns: int
    value_c: float


class ProbePoller:
    """Reads every probe in turns, ``period_s`` apart per probe, on its own thread; the node
    takes the newest sample of each. A failed read is counted and keeps no sample."""

    def __init__(self, probes: dict, period_s: float, now_ns: Callable[[], int]):
        self.probes = probes
        self.period_s = period_s
        self._now_ns = now_ns
        self._latest: dict[str, ProbeSample] = {}
        self.failed_reads = dict.fromkeys(probes, 0)
        self.last_error = dict.fromkeys(probes, '')
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='probe_poller', daemon=True)

    def start(self) -> ProbePoller:
        self._thread.start()
        return self

    def read_all(self) -> None:
        """One read of every probe (the thread's loop body)."""
        for key, probe in self.probes.items():
            if self._stop.is_set():
                return
            try:
                value = probe.read()
            except ProbeError as exc:
                with self._lock:
                    self.failed_reads[key] += 1
                    self.last_error[key] = str(exc)
                continue
            stamp = self._now_ns()
            with self._lock:
                self._seq += 1
                self._latest[key] = ProbeSample(self._seq, stamp, value)

    def latest(self, key: str) -> ProbeSample | None:
        with self._lock:
            return self._latest.get(key)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.read_all()
            self._stop.wait(self.period_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

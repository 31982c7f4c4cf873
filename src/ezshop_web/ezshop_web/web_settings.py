"""web_node's settings, each described once (declared by ezshop_ros.parameters); the server is
configured at start, so all are read-only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ezshop_common.settings import setting

#: Where staff accounts live unless accounts_file says otherwise.
ACCOUNTS_FILE_ENV = 'EZSHOP_STAFF_ACCOUNTS'


@dataclass(frozen=True)
class WebSettings:
    host: str = setting('127.0.0.1', 'address the console listens on (127.0.0.1 = this '
                        'machine only; put a TLS proxy in front to open it wider)')
    port: int = setting(8080, 'TCP port of the console (0 = any free port)', 0, 65535)
    accounts_file: str = setting('', "staff accounts (argon2 hashes); '' = "
                                 '$EZSHOP_STAFF_ACCOUNTS, else ~/.local/share/ezshop/'
                                 'staff_accounts.json')
    login_attempts: int = setting(5, 'failed logins allowed per account and per address in '
                                  'login_window_s before further tries are refused', 1, 100)
    login_window_s: float = setting(300.0, 'window of the login rate limit (s)', 1.0, 86400.0)
    face_login_attempts: int = setting(10, 'face logins that find nobody allowed per address '
                                       'in login_window_s before further tries are refused',
                                       1, 1000)
    session_max_age_s: float = setting(8 * 3600.0, 'a staff login lasts this long (s)',
                                       60.0, 7 * 86400.0)
    service_timeout_s: float = setting(5.0, "wait this long for the store's services (s)",
                                       0.1, 60.0)
    alerts_kept: int = setting(200, 'newest alerts the console keeps', 10, 10000)
    receipts_kept: int = setting(100, 'newest receipts the console keeps', 10, 10000)
    store_file: str = setting('', "store description: which shelf cameras see each lane, for "
                              "the review queue's snapshots, and the fridges and freezers "
                              "('' = the packaged store.yaml)")
    snapshot_service: str = setting('face_node/get_snapshot', "face_node's snapshot service "
                                    '(ezshop_msgs/GetSnapshot); empty = no review snapshots')
    snapshot_retention_s: float = setting(4 * 3600.0, 'a review snapshot is deleted when its '
                                          'action is settled, or after this long (s)',
                                          60.0, 7 * 86400.0)
    fridge_stale_s: float = setting(60.0, "a fridge or freezer without a probe reading this "
                                    "long (s) shows 'no reading' (temperature_monitor's "
                                    'sensor_timeout_s)', 1.0, 86400.0)
    tls_certfile: str = setting('', "PEM certificate (chain) to serve HTTPS with; '' = plain "
                                'HTTP (only sensible on 127.0.0.1). Set with tls_keyfile')
    tls_keyfile: str = setting('', 'PEM private key of tls_certfile')

    @property
    def tls(self) -> bool:
        return bool(self.tls_certfile)

    def problems(self) -> list[str]:
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            return ['tls_certfile and tls_keyfile go together (both set: HTTPS; both empty: '
                    'HTTP)']
        return [f'{name} {path!r}: no such file' for name, path in
                (('tls_certfile', self.tls_certfile), ('tls_keyfile', self.tls_keyfile))
                if path and not Path(path).expanduser().is_file()]


def accounts_path(settings: WebSettings) -> Path:
    """The staff accounts file these settings name."""
    if settings.accounts_file:
        return Path(settings.accounts_file).expanduser()
    if os.environ.get(ACCOUNTS_FILE_ENV):
        return Path(os.environ[ACCOUNTS_FILE_ENV]).expanduser()
    return Path.home() / '.local' / 'share' / 'ezshop' / 'staff_accounts.json'

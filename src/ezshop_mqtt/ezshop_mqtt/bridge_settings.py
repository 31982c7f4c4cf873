"""Settings of mqtt_bridge (its parameters, each declared once from here)."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting


@dataclass(frozen=True)
class BridgeSettings:
    store_file: str = setting('', "Store description naming the lanes and fridges whose "
                              "readings are admitted; '' = $EZSHOP_STORE_FILE or the default")
    store_id: str = setting('default', 'The store in MQTT topic names '
                            '(<prefix>/<store_id>/...)')
    client_id: str = setting('', "MQTT client id (the broker keeps its session); '' = "
                             'ezshop_bridge_<store_id>')
    mirror_receipts: bool = setting(True, 'Mirror receipts to <prefix>/<store_id>/receipts')
    mirror_alerts: bool = setting(True, 'Mirror alerts to <prefix>/<store_id>/alerts')
    mirror_inventory: bool = setting(True, 'Mirror the inventory (retained) to '
                                     '<prefix>/<store_id>/inventory')
    outbound_queue_limit: int = setting(
        10000, 'Mirrored messages kept while the broker is unreachable; beyond, new ones are '
        'dropped and counted', 1, 1000000)

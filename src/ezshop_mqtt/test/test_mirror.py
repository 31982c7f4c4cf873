"""What the bridge mirrors out: topics, retained or not, JSON a consumer can read."""

import json

from ezshop_mqtt.mirror import KIND_ALERT, KIND_INVENTORY, KIND_RECEIPT, mirrored


def test_receipts_and_alerts_are_events_the_inventory_is_kept_by_the_broker():
    receipt = mirrored('ezshop', 'default', KIND_RECEIPT, {'receipt_id': 'r1', 'revision': 0,
                                                          'total_cents': 349})
    assert receipt.topic == 'ezshop/default/receipts' and not receipt.retain
    assert json.loads(receipt.payload) == {'v': 1, 'kind': 'receipt', 'data': {
        'receipt_id': 'r1', 'revision': 0, 'total_cents': 349}}
    assert not mirrored('ezshop', 'default', KIND_ALERT, {}).retain
    inventory = mirrored('ezshop', 'shop_2', KIND_INVENTORY, {'items': []})
    assert inventory.topic == 'ezshop/shop_2/inventory' and inventory.retain

"""EZShop over MQTT: lane controllers in, receipts, alerts and inventory out."""

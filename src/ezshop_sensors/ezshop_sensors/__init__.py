"""Shelf lane sensor drivers (gpiozero HC-SR04 and LDR) and the shelf monitor that turns readings
into shelf events."""

"""A simulated store publishing the same topics as the real sensors and cameras, with ground
truth, and the receipt-accuracy benchmark."""

"""Fusion (shelf event + nearest face track -> cart action) and the store node (SQLAlchemy:
customers, stock, visits, carts, receipts)."""

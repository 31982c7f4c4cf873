"""How long the strings the store keeps may be: its database columns (ezshop_store.db.models)
hold ids of 64 characters and names of 200. Every node that takes ids or names from a topic or a
service refuses longer ones with these. Plain Python."""

#: Customer, event, item, shelf, lane, door and camera ids.
MAX_ID_CHARS = 64
#: A customer's name.
MAX_NAME_CHARS = 200

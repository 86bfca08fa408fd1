"""Notifications: the outbox (``outbox.enqueue``), transports, and the sender job."""

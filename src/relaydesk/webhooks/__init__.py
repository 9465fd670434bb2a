"""Webhooks: a client's endpoints per engagement, and the signed deliveries of events."""

"""Documents at rest: per-client data keys, envelope encryption and upload content checks."""

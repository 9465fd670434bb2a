"""Relaydesk: the platform a process-outsourcing provider delivers its clients' work on."""

__version__ = "0.1.0"

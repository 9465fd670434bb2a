"""``relaydesk import-work`` and other commands of the work app."""

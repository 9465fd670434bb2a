"""Management commands of the work app."""

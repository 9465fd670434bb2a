"""Refusals that actions raise; pages and the API turn them into responses.

Each carries a message written for the person who tried, and the HTTP status
it maps to.
"""

from __future__ import annotations

__all__ = ["ActionRefused", "Conflict", "Gone", "Invalid", "NotAllowed", "NotFound"]


class ActionRefused(Exception):
    """An action was refused and nothing was changed."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ActionRefused):
    """The input is wrong (HTTP 422)."""

    status = 422


class NotAllowed(ActionRefused):
    """The actor may not do this (HTTP 403)."""

    status = 403


class NotFound(ActionRefused):
    """No such object visible to the actor (HTTP 404); never says whether it exists."""

    status = 404


class Conflict(ActionRefused):
    """The object's current state does not admit the action (HTTP 409)."""

    status = 409


class Gone(ActionRefused):
    """The object was deleted on purpose and will not come back (HTTP 410)."""

    status = 410

"""The filter of the quality figures: which period, grouped how."""

from __future__ import annotations

from relaydesk.figures import FiguresFilter


class QualityFilter(FiguresFilter):
    """What the *Quality* page and its CSV show (the API takes the same parameters)."""

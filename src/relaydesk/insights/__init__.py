"""Objectives and dashboards: the client's and the provider's view of how the work goes."""

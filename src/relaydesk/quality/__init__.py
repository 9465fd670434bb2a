"""Quality assurance: scorecards, sampling rules, reviews and disputes."""

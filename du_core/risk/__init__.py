"""Portfolio risk analytics: numbers a risk manager can check by hand, with their conventions stated."""

"""Portfolios: what a user holds, what it is worth, how it performed, and how to rebalance it."""

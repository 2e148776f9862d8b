"""The exchange: instruments, orders, matching, settlement, positions."""

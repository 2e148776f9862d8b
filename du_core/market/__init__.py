"""Market data: candles, tickers, history, analysis, imported price series, and the live feed.

What belongs here: everything derived from prices and books, never a change to them. The exchange
(du_core.trading) runs `candles.RECORD` inside each transaction that makes trades, so the
candles of every interval are as current as the trades themselves; admins import price series of
other symbols (other venues' pairs, stocks) for analysis (`importer`, `service`, `analysis`); the
live feed (`live`, `feed_server`) pushes books and trades as they commit. Nothing here moves money
or changes an order: the only rows written are candles and the feeds that fill them.
"""

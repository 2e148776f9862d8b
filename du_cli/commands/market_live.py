"""`du market serve` and `du market watch`: the live feed's server and its terminal client.

The protocol between them is documented in du_core/market/feed_server.py. `watch` streams, so
unlike other commands it writes its own output as messages arrive: JSON lines exactly as received
with --json, a live view of the book on a terminal, and one plain tab-separated line per message
otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from du_cli.commands.market import app

if TYPE_CHECKING:
    from du_core.market.live import BookState

DEFAULT_URL = "ws://127.0.0.1:8765"


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; 0.0.0.0 opens the feed to other machines (no login is asked).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")] = 8765,
) -> None:
    """Publish live market data over WebSocket: order books, trades, tickers and instrument status.

    Runs until Ctrl-C or SIGTERM, logging one line per client on stderr. Clients: du market watch,
    the TUI, or any WebSocket client speaking the protocol of du_core/market/feed_server.py.
    """
    from du_cli.command import guarded

    guarded(lambda: _serve(host, port), as_json=False)


def _serve(host: str, port: int) -> None:
    import asyncio
    import signal

    from du_core.db.engine import describe
    from du_core.errors import Unavailable
    from du_core.market.feed_server import serve as run_feed

    from du_cli.context import engine

    eng = engine()  # DatabaseUnavailable (exit 8) before anything is bound
    where = describe(eng.url.render_as_string(hide_password=False))
    started = False

    def ready(server: Any) -> None:
        nonlocal started
        started = True
        _log(f"market feed on ws://{_netloc(host, server.port)} from {where}; Ctrl-C stops it")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_feed(eng, host=host, port=port, stop=stop, log=_log, ready=ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        if started:
            raise
        raise Unavailable(f"cannot listen on {_netloc(host, port)}: {exc.strerror or exc}") from None
    _log("market feed stopped")


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _log(line: str) -> None:
    import sys
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write(f"{stamp} {line}\n")
    sys.stderr.flush()


@app.command("watch")
def watch(
    symbol: Annotated[str, typer.Argument(help="The instrument, e.g. BTC-USD.", metavar="SYMBOL")],
    url: Annotated[str, typer.Option("--url", envvar="DU_FEED_URL", help="Address of the feed (du market serve).")
                   ] = DEFAULT_URL,
    json_flag: Annotated[bool, typer.Option(
        "--json", help="Print every message as one JSON line, exactly as received (for scripts).")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, max=500, help="Book levels per side.")] = 10,
    count: Annotated[Optional[int], typer.Option("--count", min=1, help="Stop after N messages.")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", min=0, help="Stop after S seconds; with --count, fewer than N messages by then is an error.")
    ] = None,
) -> None:
    """Watch one instrument live: its order book, trades and ticker, as the feed pushes them.

    Needs a running feed (du market serve). Exits 8 when there is none or it goes away.
    """
    from du_cli.command import guarded

    guarded(lambda: _watch(symbol, url, as_json=json_flag, depth=depth, count=count, timeout=timeout),
            as_json=json_flag)


def _watch(symbol: str, url: str, *, as_json: bool, depth: int, count: int | None, timeout: float | None) -> None:
    import asyncio
    import sys

    from du_core.errors import InvalidInput
    from du_core.trading.schemas import clean_symbol

    try:
        symbol = clean_symbol(symbol)
    except ValueError as exc:
        raise InvalidInput(str(exc), details={"symbol": symbol}) from None
    if as_json:
        view: _Lines = _JsonLines()
    elif sys.stdout.isatty():
        view = _LiveView(symbol, url, depth)
    else:
        view = _Lines()
    with view:
        asyncio.run(_stream(symbol, url, view, depth=depth, count=count, timeout=timeout))


async def _stream(symbol: str, url: str, view: _Lines, *, depth: int, count: int | None,
                  timeout: float | None) -> None:
    """Subscribe and hand each message to `view` until `count` messages or `timeout` seconds."""
    import asyncio
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    from du_core.errors import InvalidInput, NotFound, Unavailable
    from du_core.market.live import BookState, Outcome

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    try:
        ws = await connect(url, open_timeout=5, close_timeout=1, max_size=2**24)
    except InvalidURI:
        raise InvalidInput(f"not a WebSocket address: {url} (like {DEFAULT_URL})") from None
    except (OSError, TimeoutError, InvalidHandshake):
        raise Unavailable(f"no market feed at {url}: start one with du market serve") from None
    subscribe = json.dumps({"op": "subscribe", "symbols": [symbol], "depth": depth})
    book, received, last_seq = BookState(symbol), 0, 0
    async with ws:
        await ws.send(subscribe)
        while count is None or received < count:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                break
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                why = f" ({exc.rcvd.code} {exc.rcvd.reason})".rstrip() if exc.rcvd else ""
                raise Unavailable(f"the market feed at {url} closed the connection{why}") from None
            text = raw.decode() if isinstance(raw, bytes) else raw
            msg = json.loads(text)
            if msg.get("type") == "error":
                error = NotFound if msg.get("code") == "not_found" else InvalidInput
                raise error(f"the market feed refused: {msg.get('message')}", details={"symbol": symbol})
            if msg.get("symbol") != symbol:
                continue
            received += 1
            kind = msg.get("type")
            if kind == "snapshot":
                book.load(msg["book_seq"], msg["bids"], msg["asks"])
            elif msg.get("seq") != last_seq + 1:
                book.invalidate()  # the feed dropped messages for us: a snapshot follows
            if kind == "book" and book.apply(msg["book_seq"], msg["changes"]) is Outcome.RESYNC:
                await ws.send(subscribe)  # a gap in the book: ask for a fresh snapshot
            last_seq = msg.get("seq", last_seq)
            view.show(text, msg, book)
    if count is not None and received < count:
        raise Unavailable(f"timed out after {timeout:g} s: received {received} of {count} messages from {url}")


class _Lines:
    """Off a terminal: one tab-separated line per message, no colour."""

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, text: str, msg: dict[str, Any], book: BookState) -> None:
        import sys

        kind = msg.get("type")
        if kind == "snapshot":
            bid, ask = book.bids(1), book.asks(1)
            cells = [f"book_seq={msg.get('book_seq')}", f"bid={_px(bid)}", f"ask={_px(ask)}"]
        elif kind == "book":
            cells = [f"book_seq={msg.get('book_seq')}", *(":".join(map(str, c)) for c in msg.get("changes", []))]
        elif kind == "trade":
            cells = [str(msg.get(k, "")) for k in ("price", "quantity", "taker_side", "at")]
        else:
            cells = [f"{k}={v}" for k, v in msg.items() if k not in ("type", "symbol", "seq")]
        sys.stdout.write("\t".join([str(kind), str(msg.get("symbol")), *cells]) + "\n")
        sys.stdout.flush()


def _px(levels: list[Any]) -> str:
    return f"{levels[0][0]:f}@{levels[0][1]:f}" if levels else ""


class _JsonLines(_Lines):
    """--json: every message as received, one per line, flushed at once for pipelines."""

    def show(self, text: str, msg: dict[str, Any], book: BookState) -> None:
        import sys

        sys.stdout.write(text + "\n")
        sys.stdout.flush()


class _LiveView(_Lines):
    """On a terminal: the book both sides, the last trades and the ticker, redrawn in place."""

    def __init__(self, symbol: str, url: str, depth: int) -> None:
        from collections import deque

        self.symbol, self.url, self.depth = symbol, url, depth
        self.trades: deque[dict[str, Any]] = deque(maxlen=12)
        self.ticker: dict[str, Any] = {}
        self.status = ""
        self.received = 0
        self.book: BookState | None = None
        self._drawn = 0.0

    def __enter__(self) -> _LiveView:
        from rich.live import Live

        self.live = Live(self.render(), auto_refresh=False, transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self.render(), refresh=True)
        self.live.__exit__(None, None, None)

    def show(self, text: str, msg: dict[str, Any], book: BookState) -> None:
        import time

        self.book, self.received = book, self.received + 1
        kind = msg.get("type")
        if kind == "trade":
            self.trades.appendleft(msg)
        elif kind == "ticker":
            self.ticker = msg
        elif kind == "status":
            self.status = str(msg.get("status", ""))
        now = time.monotonic()
        if now - self._drawn >= 0.1:  # a busy book redraws ten times a second, not per message
            self._drawn = now
            self.live.update(self.render(), refresh=True)

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        book = self.book
        bids = book.bids(self.depth) if book is not None else []
        asks = book.asks(self.depth) if book is not None else []
        levels = Table(title="Order book", expand=False, header_style="bold")
        for name, style in (("orders", "green"), ("bid size", "green"), ("bid", "bold green"),
                            ("ask", "bold red"), ("ask size", "red"), ("orders", "red")):
            levels.add_column(name, justify="right", style=style)
        for i in range(max(len(bids), len(asks), 1)):
            bid = bids[i] if i < len(bids) else None
            ask = asks[i] if i < len(asks) else None
            levels.add_row(
                _n(bid[2]) if bid else "", f"{bid[1]:f}" if bid else "", f"{bid[0]:f}" if bid else "",
                f"{ask[0]:f}" if ask else "", f"{ask[1]:f}" if ask else "", _n(ask[2]) if ask else "")
        tape = Table(title="Last trades", header_style="bold")
        for name in ("time", "side", "price", "quantity"):
            tape.add_column(name, justify="right")
        for t in self.trades:
            side = str(t.get("taker_side", ""))
            tape.add_row(str(t.get("at", ""))[11:19], Text(side, style="green" if side == "buy" else "red"),
                         str(t.get("price", "")), str(t.get("quantity", "")))
        ticker = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.ticker.items()
                           if k not in ("type", "symbol", "seq") and v is not None)
        stale = "" if book is None or book.synced else "  (resyncing)"
        head = Text.assemble((self.symbol, "bold"), f"  {self.status}{stale}  {ticker}")
        foot = Text(f"{self.received} messages from {self.url}; Ctrl-C stops", style="dim")
        return Group(head, levels, tape, foot)


def _n(orders: Any) -> str:
    return "" if orders is None else str(orders)

"""The database side of the live market feed: notifications as they commit, and books kept from them.

The exchange bumps `instruments.book_seq` by one in every transaction that changes a book and, in
that same transaction, sends `pg_notify('du_market', payload)`, so a notification exists only if
its change committed (the payloads are described in `du_core.market.feed_server`). This module is
what a consumer of those notifications needs, whatever shows them (the websocket feed server,
the TUI):

- `Listener` holds one autocommit psycopg connection doing `LISTEN du_market` and yields each
  notification decoded (`Notice`). When the connection drops it reconnects by itself, backing off,
  and then yields `Resync`: notifications sent while it was away are lost, so every book built
  from them must start again from a snapshot.
- `BookState` is one symbol's aggregated book: it starts from a snapshot
  (`du_core.trading.book.snapshot`) and applies the deltas that follow it, checking their sequence
  numbers. A delta already inside the snapshot is skipped; a jump, or a `resync` notice, means a
  new snapshot is needed; deltas that arrive meanwhile are kept and replayed onto it.

The order matters: LISTEN first, snapshot second. A snapshot taken before listening could miss a
change whose notification was sent before the LISTEN. Taken after, every change is either in the
snapshot (seq <= snapshot.seq, skipped) or arrives as a delta (buffered until the snapshot is in).

No websockets and no user interface here: just PostgreSQL and the sequence rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TYPE_CHECKING, Any

from du_core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg

    from du_core.trading.book import Snapshot

CHANNEL = "du_market"
APPLICATION_NAME = "du-market-feed"
_log = logging.getLogger(__name__)

# A level as a book shows it: price, total remaining quantity, number of orders (None once a delta
# changed the level: deltas carry quantities only).
Level = tuple[Decimal, Decimal, "int | None"]


@dataclass(frozen=True)
class Notice:
    """One decoded notification: `topic` is book, trades or instrument; `payload` is the whole JSON object."""

    topic: str
    symbol: str | None
    payload: Mapping[str, Any]

    @property
    def seq(self) -> int | None:
        """The book sequence number it belongs to (book and trades notices), else None."""
        seq = self.payload.get("seq")
        return seq if isinstance(seq, int) else None


@dataclass(frozen=True)
class Resync:
    """The connection was lost and is back: notifications in between are gone, take new snapshots."""

    reason: str


Event = Notice | Resync


def decode(payload: str) -> Notice | None:
    """Decode one notification's payload, or None when it is not an object with a topic."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("topic"), str):
        return None
    symbol = data.get("symbol")
    return Notice(topic=data["topic"], symbol=symbol if isinstance(symbol, str) else None, payload=data)


def libpq_url(url: str) -> str:
    """A URL libpq understands, from the SQLAlchemy spelling the rest of the platform uses."""
    from du_core.db.engine import normalise_url

    return normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


class Listener:
    """One LISTEN connection that survives the database going away.

    Use it as an async context manager, then iterate:

        async with Listener(url) as listener:   # connected and listening: snapshots may be taken now
            async for event in listener:        # Notice, or Resync after a reconnect
                ...

    Connecting the first time raises `DatabaseUnavailable`; later losses are retried forever,
    waiting `min_backoff` doubling up to `max_backoff` (with jitter) between attempts. After
    `heartbeat` seconds without a notification it checks the connection with a query, so a
    connection that died silently is noticed too.
    """

    def __init__(self, url: str, *, channel: str = CHANNEL, heartbeat: float = 15.0, min_backoff: float = 0.05,
                 max_backoff: float = 5.0, connect_timeout: int = 5,
                 log: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.channel = channel
        self.heartbeat = heartbeat
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self._log = log or _log.info
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._closed = False
        self.reconnects = 0

    @property
    def pid(self) -> int | None:
        """The PostgreSQL backend process of the listening connection, None while disconnected."""
        return self._conn.info.backend_pid if self._conn is not None and not self._conn.closed else None

    @property
    def connected(self) -> bool:
        return self.pid is not None

    async def connect(self) -> None:
        """Connect and LISTEN.

        Raises:
            DatabaseUnavailable: the database cannot be reached.
        """
        import psycopg

        from du_core.db.engine import check_connection_error

        try:
            self._conn = await self._open()
        except psycopg.Error as exc:
            raise (check_connection_error(exc, self.url)
                   or DatabaseUnavailable(f"could not listen to the database: {type(exc).__name__}")) from None

    async def close(self) -> None:
        """Stop listening and close the connection; an iteration in progress ends."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> Listener:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self) -> AsyncIterator[Event]:
        """Yield notifications as they arrive, and `Resync` after each reconnection."""
        import psycopg

        while not self._closed:
            conn = self._conn
            if conn is None:
                reason = await self._reconnect()
                if self._closed:
                    return
                yield Resync(reason)
                continue
            try:
                async for notify in conn.notifies(timeout=self.heartbeat):
                    notice = decode(notify.payload)
                    if notice is None:
                        self._log(f"ignored a malformed notification on {self.channel}: {notify.payload[:80]!r}")
                    else:
                        yield notice
                if not self._closed:
                    await conn.execute("SELECT 1")  # quiet for a while: is the connection still there?
            except psycopg.Error as exc:
                if self._closed:
                    return
                self._lost(exc)
                await conn.close()  # the socket is gone already; this releases what is left

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        import psycopg
        from psycopg import sql

        conn = await psycopg.AsyncConnection.connect(
            libpq_url(self.url), autocommit=True, connect_timeout=self.connect_timeout,
            application_name=APPLICATION_NAME,
            # a dead TCP peer is noticed by the kernel too, not only by the heartbeat
            keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            await conn.close()
            raise
        return conn

    def _lost(self, exc: BaseException) -> None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._log(f"lost the database connection ({first}); reconnecting")
        self._conn = None

    async def _reconnect(self) -> str:
        """Connect again, backing off, until it works or the listener is closed; return why it happened."""
        import psycopg

        delay, attempts = self.min_backoff, 0
        while not self._closed:
            attempts += 1
            try:
                self._conn = await self._open()
            except psycopg.Error as exc:
                if attempts == 1 or attempts % 10 == 0:
                    self._log(f"database still unreachable ({type(exc).__name__}); retrying")
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(self.max_backoff, delay * 2)
                continue
            self.reconnects += 1
            self._log(f"listening to the database again after {attempts} attempt(s)")
            return f"reconnected after {attempts} attempt(s)"
        return "closed"


class Outcome(Enum):
    """What `BookState.apply` did with a delta."""

    APPLIED = "applied"  # the book moved on by one
    STALE = "stale"  # already part of the snapshot: skipped
    BUFFERED = "buffered"  # waiting for a snapshot: kept to replay onto it
    RESYNC = "resync"  # a gap or a resync notice: take a new snapshot now (the delta is kept)


_ZERO = Decimal(0)


@dataclass
class BookState:
    """The aggregated book of one symbol, kept current from a snapshot and the deltas after it.

    Until `load` is given a snapshot, and again after a gap, deltas are buffered (at most
    `max_buffer` of them; older ones are dropped, which the replay notices as a gap). `apply`
    returns RESYNC exactly once per needed snapshot; take one and `load` it.
    """

    symbol: str
    max_buffer: int = 10_000
    seq: int | None = field(default=None, init=False)  # the book_seq of the levels; None before a snapshot
    synced: bool = field(default=False, init=False)  # False while a snapshot is awaited
    _bids: dict[Decimal, tuple[Decimal, int | None]] = field(default_factory=dict, init=False, repr=False)
    _asks: dict[Decimal, tuple[Decimal, int | None]] = field(default_factory=dict, init=False, repr=False)
    _buffer: deque[tuple[int, Any]] = field(default_factory=deque, init=False, repr=False)

    def load(self, seq: int, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]]) -> bool:
        """Start again from the levels of a snapshot at `seq`, then replay the buffered deltas.

        Levels are (price, quantity[, orders]) as Decimals or decimal strings. Returns False when
        the buffer does not follow on from the snapshot (notifications were lost): take another.
        """
        self._bids = {Decimal(lv[0]): (Decimal(lv[1]), lv[2] if len(lv) > 2 else None) for lv in bids}
        self._asks = {Decimal(lv[0]): (Decimal(lv[1]), lv[2] if len(lv) > 2 else None) for lv in asks}
        self.seq, self.synced = seq, True
        buffered, self._buffer = self._buffer, deque()
        while buffered:
            seq, changes = buffered.popleft()
            if self._step(seq, changes) is Outcome.RESYNC:
                self._buffer.extend(buffered)
                return False
        return True

    def load_snapshot(self, snap: Snapshot) -> bool:
        """`load` a snapshot of `du_core.trading.book.snapshot`."""
        return self.load(snap.seq, snap.bids, snap.asks)

    def apply(self, seq: int, changes: Any) -> Outcome:
        """Apply the delta with book sequence number `seq`; `changes` None means a resync notice."""
        if not self.synced:
            self._keep(seq, changes)
            return Outcome.BUFFERED
        return self._step(seq, changes)

    def handle(self, payload: Mapping[str, Any]) -> Outcome:
        """Apply a `book` notification payload of the exchange (changes, or a resync notice)."""
        seq = payload.get("seq")
        if not isinstance(seq, int):
            return self._invalidate(None)
        return self.apply(seq, None if payload.get("resync") else payload.get("changes"))

    def invalidate(self) -> None:
        """Forget that the levels are current (the notifications stopped for a while): await a snapshot."""
        self.synced = False

    def bids(self, depth: int | None = None) -> list[Level]:
        """Bid levels, best (highest) first."""
        return [(p, q, n) for p, (q, n) in sorted(self._bids.items(), reverse=True)[:depth]]

    def asks(self, depth: int | None = None) -> list[Level]:
        """Ask levels, best (lowest) first."""
        return [(p, q, n) for p, (q, n) in sorted(self._asks.items())[:depth]]

    def _step(self, seq: int, changes: Any) -> Outcome:
        assert self.seq is not None
        if seq <= self.seq:
            return Outcome.STALE
        if seq != self.seq + 1 or changes is None:
            return self._invalidate((seq, changes))
        try:
            parsed = [(side, Decimal(price), Decimal(quantity)) for side, price, quantity in changes]
        except (TypeError, ValueError, InvalidOperation):
            return self._invalidate(None)  # a delta we cannot read: the snapshot will have it
        for side, price, quantity in parsed:
            levels = self._bids if side == "buy" else self._asks
            if quantity <= _ZERO:
                levels.pop(price, None)
            else:
                levels[price] = (quantity, None)
        self.seq = seq
        return Outcome.APPLIED

    def _invalidate(self, keep: tuple[int, Any] | None) -> Outcome:
        self.synced = False
        if keep is not None and keep[1] is not None:
            self._keep(*keep)
        return Outcome.RESYNC

    def _keep(self, seq: int, changes: Any) -> None:
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
        self._buffer.append((seq, changes))

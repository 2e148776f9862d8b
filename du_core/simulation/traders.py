"""The simulated traders: ordinary accounts, created and funded through the platform's own operations.

Each one registers like any user (`auth.register`), is raised to role standard and KYC level 1 by
an admin (`admin.users_update`), and gets its money through a sandbox deposit
(`financial.deposit`), so every unit it trades with entered the books the way a real deposit
does. Preparing again reuses the accounts and tops up only what fell below half its target.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any, Literal

from du_core.actor import Actor, RequestContext, Role
from du_core.db.runner import run
from du_core.simulation.market import Rules
from du_core.simulation.schemas import SimulationConfig, TraderView

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DOMAIN = "sim.example"
PHONE_PREFIX = "+1202555"  # 555-01xx: numbers set aside for fiction
PHONES = {"maker": 101, "taker": 151}  # up to 50 of each
CONTEXT = RequestContext(client="simulator", profile="simulation", device="du_core.simulation")
TRADING_KYC = 1
FUNDED_ORDERS = 100  # a trader is funded for this many of its largest orders, per instrument
MAX_ORDER_NOTIONALS = 200  # the largest order is this many instrument minimum notionals


@dataclass
class SimTrader:
    """A simulated trader and the actor it places its orders as."""

    kind: Literal["maker", "taker"]
    number: int
    actor: Actor
    created: bool = False
    deposited: dict[str, Decimal] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return email_of(self.kind, self.number)

    def view(self) -> TraderView:
        assert self.actor.user_id is not None
        return TraderView(id=self.actor.user_id, email=self.email, kind=self.kind, created=self.created,
                          deposited=dict(self.deposited))


def email_of(kind: str, number: int) -> str:
    return f"sim-{kind}-{number}@{DOMAIN}"


def load_rules(engine: Engine, symbols: list[str]) -> dict[str, Rules]:
    """The rules of each symbol, checked tradable.

    Raises:
        NotFound: no such instrument.
        TradingDisabled: trading is off on the platform, or an instrument is halted.
    """
    from du_core.errors import TradingDisabled
    from du_core.trading import info
    from du_core.trading.schemas import OptionalSymbol

    rules: dict[str, Rules] = {}
    for symbol in symbols:
        view = run(engine, info.rules, OptionalSymbol(symbol=symbol), actor=Actor.anonymous(CONTEXT))
        if not view.trading_enabled:
            raise TradingDisabled("trading is disabled on the platform: du admin settings update trading_enabled=true")
        rules[symbol] = Rules.of(view.instruments[0])
    return rules


def funding_targets(rules: dict[str, Rules]) -> dict[str, Decimal]:
    """How much of each asset one trader should hold: `FUNDED_ORDERS` of its largest orders per instrument.

    That is far more than a trader's holdings drift in a run of hours (its buys and sells mostly
    offset); a trader that does run short is topped up during the run. Not depending on the
    run's length or rate keeps preparing again a no-op.
    """
    targets: dict[str, Decimal] = {}
    for r in rules.values():
        quote = r.min_notional * MAX_ORDER_NOTIONALS * FUNDED_ORDERS
        targets[r.quote] = targets.get(r.quote, Decimal(0)) + quote
        targets[r.base] = targets.get(r.base, Decimal(0)) + quote / r.start_price()
    return {asset: _two_digits_up(amount) for asset, amount in targets.items()}


def _two_digits_up(value: Decimal) -> Decimal:
    """`value` rounded up to two significant digits: 3.3333 BTC is funded as 3.4."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 1), rounding=ROUND_CEILING)


def prepare(engine: Engine, admin: Actor, config: SimulationConfig) -> list[SimTrader]:
    """Create (or find) the run's simulated traders and fund them; return them makers first.

    Raises:
        PermissionDenied: `admin` is not an admin.
        NotFound, TradingDisabled, InvalidState: a symbol cannot be simulated (see load_rules).
        Duplicate: a simulated trader's phone number belongs to another account.
    """
    from du_core.admin import service as admin_service
    from du_core.users.schemas import UserQuery

    rules = load_rules(engine, config.symbols)
    targets = funding_targets(rules)
    page = run(engine, admin_service.users_list, UserQuery(search=f"@{DOMAIN}", limit=200), actor=admin)
    known = {row.email: row for row in page.items}
    traders = [_ensure(engine, admin, kind=kind, number=n, row=known.get(email_of(kind, n)))
               for kind, count in (("maker", config.makers), ("taker", config.takers))
               for n in range(1, count + 1)]
    places = asset_places(engine)
    for trader in traders:
        fund(engine, trader, targets=targets, places=places)
    return traders


def _ensure(engine: Engine, admin: Actor, *, kind: Literal["maker", "taker"], number: int, row: Any) -> SimTrader:
    """The trader `kind`-`number`, registered if new, with the role and KYC level trading needs."""
    from du_core.admin import service as admin_service
    from du_core.admin.schemas import UpdateUser
    from du_core.auth import service as auth_service
    from du_core.auth.schemas import Register

    created = row is None
    if created:
        # Nobody logs in as a simulated trader: its password is thrown away.
        row = run(engine, auth_service.register, Register(
            email=email_of(kind, number), phone=f"{PHONE_PREFIX}{PHONES[kind] + number - 1:04d}",
            full_name=f"Simulated {kind.title()}", password=secrets.token_urlsafe(24), date_of_birth="1990-01-01",
            nationality="US"), actor=Actor.anonymous(CONTEXT))
    changes: dict[str, Any] = {}
    if row.role != Role.standard.value:
        changes["role"] = Role.standard
    if row.kyc_level < TRADING_KYC:
        changes["kyc_level"] = TRADING_KYC
    if row.status != "active":
        changes["status"] = "active"
    if changes:
        row = run(engine, admin_service.users_update, UpdateUser(user_id=row.id, **changes), actor=admin)
    actor = Actor(user_id=row.id, role=Role(row.role), kyc_level=row.kyc_level, context=CONTEXT)
    return SimTrader(kind=kind, number=number, actor=actor, created=created)


def asset_places(engine: Engine) -> dict[str, int]:
    """The decimal places of every listed asset."""
    from du_core.financial import service as financial

    return {a.code: a.precision for a in run(engine, financial.list_assets, actor=Actor.anonymous(CONTEXT))}


def fund(engine: Engine, trader: SimTrader, *, targets: dict[str, Decimal], places: dict[str, int]) -> None:
    """Top each asset of `trader` up to its target where it holds less than half of it."""
    from du_core.financial import service as financial

    held = {row.currency: row.total for row in run(engine, financial.balance, actor=trader.actor).balances}
    for asset, target in targets.items():
        have = held.get(asset, Decimal(0))
        if have < target / 2:
            deposit(engine, trader, asset=asset, amount=target - have, places=places[asset])


def deposit(engine: Engine, trader: SimTrader, *, asset: str, amount: Decimal, places: int) -> Decimal:
    """Deposit `amount` (rounded up to the asset's places) through the sandbox gateway, as the trader."""
    from du_core.payments import service as payments
    from du_core.payments.schemas import Deposit

    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)
    run(engine, payments.deposit, Deposit(amount=format(amount, "f"), currency=asset, method="sandbox"),
        actor=trader.actor)
    trader.deposited[asset] = trader.deposited.get(asset, Decimal(0)) + amount
    return amount

"""`du client`: your own profile, settings, trading preferences and onboarding."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from du_cli.command import command

app = typer.Typer(help="Your own profile, settings, trading preferences and onboarding.", no_args_is_help=True)
profile_app = typer.Typer(help="Your personal details: name, date of birth, address, base currency.",
                          no_args_is_help=True)
settings_app = typer.Typer(help="Your language, time zone and notification choices.", no_args_is_help=True)
preferences_app = typer.Typer(help="Your trading style, risk tolerance, experience, goals and horizon.",
                              no_args_is_help=True)
onboarding_app = typer.Typer(help="Your progress towards a funded, trading account.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
app.add_typer(settings_app, name="settings")
app.add_typer(preferences_app, name="preferences")
app.add_typer(onboarding_app, name="onboarding")

# The choices are spelled out here rather than imported, so that `--help` loads no database code;
# a test checks them against du_core.clients.models.
LANGUAGE_HELP = "Language: en, vi, fr, de, es, ja or zh."
STYLE_HELP = "Trading style: long_term, swing, day, scalping or passive."
RISK_HELP = "Risk tolerance: low, medium or high."
EXPERIENCE_HELP = "Trading experience: none, beginner, intermediate or expert."
GOAL_HELP = ("An investment goal, repeat for several (they replace the current list): growth, income, "
             "preservation, speculation, retirement or hedging.")


def _notify(name: str, what: str) -> Any:
    """An on/off option that, left out, leaves the setting as it is."""
    return Annotated[Optional[bool], typer.Option(f"--notify-{name}/--no-notify-{name}", help=f"Notify me {what}.")]


NotifyEmail = _notify("email", "by email")
NotifySms = _notify("sms", "by SMS")
NotifyTrades = _notify("trades", "of my trades")
NotifyPriceAlerts = _notify("price-alerts", "of price alerts")
NotifyMarketing = _notify("marketing", "of offers and news")


def _given(**options: Any) -> dict[str, Any]:
    """The options that were given (None means left out).

    Raises:
        InvalidInput: none was given.
    """
    from du_core.errors import InvalidInput

    given = {name: value for name, value in options.items() if value is not None}
    if not given:
        raise InvalidInput("nothing to update: give at least one option (see --help)")
    return given


@command(profile_app, "show")
def profile_show():
    """Show your profile, with the email and phone of your account."""
    from du_core.clients import service

    from du_cli.context import call

    return call(service.profile_show)


@command(profile_app, "update")
def profile_update(
    full_name: Annotated[Optional[str], typer.Option("--full-name", help="Full legal name.")] = None,
    date_of_birth: Annotated[Optional[str], typer.Option("--date-of-birth", help="YYYY-MM-DD.", metavar="DATE")] = None,
    nationality: Annotated[Optional[str], typer.Option("--nationality", help="ISO country code, e.g. VN.")] = None,
    address_line: Annotated[Optional[str], typer.Option("--address-line", help="Street and number.")] = None,
    city: Annotated[Optional[str], typer.Option("--city", help="City.")] = None,
    postal_code: Annotated[Optional[str], typer.Option("--postal-code", help="Postal code.")] = None,
    country: Annotated[Optional[str], typer.Option("--country", help="ISO country code of residence, e.g. VN.")] = None,
    occupation: Annotated[Optional[str], typer.Option("--occupation", help="Occupation.")] = None,
    base_currency: Annotated[Optional[str], typer.Option(
        "--base-currency", help="Currency to value your assets in, e.g. USD or VND.")] = None,
):
    """Change your profile: only the options given change; "" clears an address field or the occupation."""
    from du_core.clients import service
    from du_core.clients.schemas import UpdateProfile
    from du_core.validation import parse

    from du_cli.context import call

    request = parse(UpdateProfile, **_given(
        full_name=full_name, date_of_birth=date_of_birth, nationality=nationality, address_line=address_line,
        city=city, postal_code=postal_code, country=country, occupation=occupation, base_currency=base_currency))
    return call(service.profile_update, request)


@command(settings_app, "show")
def settings_show():
    """Show your language, time zone and notification choices."""
    from du_core.clients import service

    from du_cli.context import call

    return call(service.settings_show)


@command(settings_app, "update")
def settings_update(
    language: Annotated[Optional[str], typer.Option("--language", help=LANGUAGE_HELP)] = None,
    timezone: Annotated[Optional[str], typer.Option(
        "--timezone", help="IANA time zone, e.g. Asia/Ho_Chi_Minh or UTC.", metavar="ZONE")] = None,
    notify_email: NotifyEmail = None,
    notify_sms: NotifySms = None,
    notify_trades: NotifyTrades = None,
    notify_price_alerts: NotifyPriceAlerts = None,
    notify_marketing: NotifyMarketing = None,
):
    """Change your settings: only the options given change."""
    from du_core.clients import service
    from du_core.clients.schemas import UpdateSettings
    from du_core.validation import parse

    from du_cli.context import call

    request = parse(UpdateSettings, **_given(
        language=language, timezone=timezone, notify_email=notify_email, notify_sms=notify_sms,
        notify_trades=notify_trades, notify_price_alerts=notify_price_alerts, notify_marketing=notify_marketing))
    return call(service.settings_update, request)


@command(preferences_app, "show")
def preferences_show():
    """Show your trading style, risk tolerance, experience, investment goals and horizon."""
    from du_core.clients import service

    from du_cli.context import call

    return call(service.preferences_show)


@command(preferences_app, "update")
def preferences_update(
    trading_style: Annotated[Optional[str], typer.Option("--trading-style", help=STYLE_HELP)] = None,
    risk_tolerance: Annotated[Optional[str], typer.Option("--risk-tolerance", help=RISK_HELP)] = None,
    experience: Annotated[Optional[str], typer.Option("--experience", help=EXPERIENCE_HELP)] = None,
    goal: Annotated[Optional[list[str]], typer.Option("--goal", help=GOAL_HELP, metavar="GOAL")] = None,
    clear_goals: Annotated[bool, typer.Option("--clear-goals", help="Remove every investment goal.")] = False,
    horizon_years: Annotated[Optional[int], typer.Option(
        "--horizon-years", help="Investment horizon in years, 0 to 100.", metavar="YEARS")] = None,
):
    """Change your trading preferences: only the options given change."""
    from du_core.clients import service
    from du_core.clients.schemas import UpdatePreferences
    from du_core.errors import InvalidInput
    from du_core.validation import parse

    from du_cli.context import call

    if goal and clear_goals:
        raise InvalidInput("give --goal or --clear-goals, not both")
    request = parse(UpdatePreferences, **_given(
        trading_style=trading_style, risk_tolerance=risk_tolerance, experience=experience,
        investment_goals=[] if clear_goals else goal, horizon_years=horizon_years))
    return call(service.preferences_update, request)


@command(onboarding_app, "status")
def onboarding_status():
    """Show every onboarding step, done or not, the next one and how far along you are."""
    from du_core.clients import service

    from du_cli.context import call

    return call(service.onboarding_status)


@command(onboarding_app, "complete")
def onboarding_complete(
    step: Annotated[str, typer.Option("--step", help="risk_disclosure_accepted or terms_accepted (the other "
                                                     "steps are recorded by the platform).")],
):
    """Declare an onboarding step done: accepting the risk disclosure or the terms."""
    from du_core.clients import service
    from du_core.clients.schemas import CompleteStep
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.onboarding_complete, parse(CompleteStep, step=step))

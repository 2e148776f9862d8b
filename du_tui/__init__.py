"""The workstation: a Textual front end over du_core, the terminal screen traders live in.

Like du_cli it only parses, calls and renders: every action is a du_core operation run through
`du_core.db.runner.run` in a worker thread, and live updates come from the exchange's database
notifications (`du_core.market.live`). It never reads the CLI's configuration: `du tui` hands it
an engine and a way to get a valid access token.
"""

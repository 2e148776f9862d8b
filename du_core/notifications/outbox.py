"""The notification outbox: enqueue in the business transaction, deliver after it commits.

A message is written to `notifications` in the same transaction as the change that causes it
(a reset token, a verification code), so it is sent if and only if that change committed. A
`Sender` delivers it; the default writes to a 0600 file in the data directory that the operator
reads. A delivered message's body is cleared: one-time secrets do not stay at rest.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from du_core.db.runner import after_commit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from du_core.notifications.models import Notification

MAX_ATTEMPTS = 5


class Sender(Protocol):
    def send(self, message: Notification) -> None:
        """Deliver one message or raise."""


class FileSender:
    """Appends each message to a file only its owner can read (the operator's mailbox)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Notification) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(
                f"--- {datetime.now(timezone.utc).isoformat()} {message.channel} to {message.recipient}\n"
                f"Subject: {message.subject}\n\n{message.body}\n\n"
            )


_sender: Sender | None = None


def configure(sender: Sender) -> None:
    """Choose how messages leave the platform (an SMTP or SMS gateway client, in production)."""
    global _sender
    _sender = sender


def current_sender() -> Sender:
    if _sender is None:
        from du_core.config import load_settings

        configure(FileSender(load_settings().outbox_file))
    assert _sender is not None
    return _sender


def enqueue(
    session: Session,
    *,
    user_id: uuid.UUID | None,
    channel: str,
    recipient: str,
    template: str,
    subject: str,
    body: str,
) -> None:
    """Queue a message in the caller's transaction; it is delivered once that transaction commits."""
    from du_core.notifications.models import Notification

    session.add(Notification(user_id=user_id, channel=channel, recipient=recipient,
                             template=template, subject=subject, body=body))
    if not session.info.get("outbox_hooked"):
        session.info["outbox_hooked"] = True
        engine = session.get_bind()
        after_commit(session, lambda: deliver_pending(engine))  # type: ignore[arg-type]


def deliver_pending(engine: Engine, *, sender: Sender | None = None, limit: int = 100) -> int:
    """Send pending messages; return how many were sent. Safe to run from many processes at once."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from du_core.notifications.models import Notification

    sender = sender or current_sender()
    sent = 0
    with Session(engine) as session, session.begin():
        batch = session.scalars(
            select(Notification).where(Notification.status == "pending")
            .order_by(Notification.created_at).limit(limit).with_for_update(skip_locked=True)
        ).all()
        for message in batch:
            try:
                sender.send(message)
            except Exception as exc:  # noqa: BLE001 - a sender's failure is recorded, not raised
                message.attempts += 1
                message.last_error = f"{type(exc).__name__}: {exc}"[:200]
                if message.attempts >= MAX_ATTEMPTS:
                    message.status = "failed"
                    message.body = None
                continue
            message.status, message.body, message.sent_at = "sent", None, datetime.now(timezone.utc)
            message.attempts += 1
            sent += 1
    return sent

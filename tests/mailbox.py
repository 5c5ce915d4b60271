"""Pytest plugin: a real SMTP server (aiosmtpd) on a free local port, and a `mailbox`
fixture holding what it received during the test.

    def test_x(mailbox):
        ...  # something that commits e-mails
        [mail] = mailbox.wait_for(1)
        assert mail["To"] == "a@example.org"
        assert "Order" in mail.get_content()
"""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """The messages received (email.message.EmailMessage), oldest first; list-like."""

    def __init__(self) -> None:
        self._messages: list[EmailMessage] = []
        self._changed = threading.Condition()

    # aiosmtpd handler hook, called on the server's thread.
    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        # Line ends as Python writes them, so bodies compare with plain strings.
        data = (envelope.original_content or envelope.content).replace(b"\r\n", b"\n")
        message = message_from_bytes(data, policy=policy.default)
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages once at least `count` arrived; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} e-mail(s), got {len(self._messages)}: "
                        f"{[m['Subject'] for m in self._messages]}")
                self._changed.wait(left)
            return list(self._messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self if m["To"] == address]

    def __iter__(self):
        with self._changed:
            return iter(list(self._messages))

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)

    def __getitem__(self, index):
        with self._changed:
            return self._messages[index]


@pytest.fixture(scope="session")
def smtp_server():
    """The aiosmtpd Controller (.hostname, .port) running for the whole session;
    what it receives goes to its .mailbox."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.mailbox = box
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    box = smtp_server.mailbox
    box.clear()
    yield box
    box.clear()

"""A local SMTP server for `make run`: keeps every e-mail it receives, sends none on.

    python scripts/smtp_sink.py [--host 127.0.0.1] [--port 8025] [--dir instance/mail]

Each message is written to DIR/<UTC timestamp>-<n>.eml (open it with any mail
reader, or read it as text) and summed up on one line of standard output. Stops on
Ctrl-C or SIGTERM. It listens on 127.0.0.1 only: never expose it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


class SaveToFolder:
    """aiosmtpd handler: one .eml file per message."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        with self.lock:
            self.count += 1
            n = self.count
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{n}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        message = message_from_bytes(envelope.original_content or envelope.content,
                                     policy=policy.default)
        print(f"{stamp} #{n} from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: "
              f"{message.get('Subject', '')!s} -> {path}", flush=True)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=ROOT / "instance" / "mail")
    args = parser.parse_args(argv)

    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(SaveToFolder(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink listening on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

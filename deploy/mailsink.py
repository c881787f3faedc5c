"""`python -m deploy.mailsink --port 1025 --folder data/mail`: a local SMTP server that
keeps every message it is given as an `.eml` file (open it in any mail program, or read it
as text), for `make run`: the notifier's receipts and reminders land there instead of in
real mailboxes."""

import argparse
import re
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        found = re.search(rb"^Message-ID:\s*<([^>]+)>", content, re.I | re.M)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", found[1].decode() if found else "message")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (self.folder / f"{stamp}-{name[:150]}.eml").write_bytes(content)
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--folder", type=Path, default=Path("data/mail"))
    args = parser.parse_args()
    controller = Controller(Folder(args.folder), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"mail sink on 127.0.0.1:{args.port}, keeping messages in {args.folder}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

"""bench/notifier: one reminder wave to 5,000 units, by email and by webhook.

5,000 units (each with an email address and a webhook URL) are missing 2026-W04 when its
first reminder step falls due; the notifier (a process, on the embedded broker and SQLite,
rate limits off) plans the wave and delivers it to a local SMTP server (aiosmtpd) and a
local webhook receiver. Printed: messages per second per channel, the time from the step
falling due to the last delivery (target: under 60 s), and how many arrived twice (by
Message-ID and webhook-id; must be 0).

Run: `.venv/bin/python -m bench.notifier [--units 5000]`.
"""

import argparse
import tempfile
import time
from pathlib import Path

from deploy.brokers import launch
from tests.notifier_wave import Wave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    broker = launch("tansu", workdir=folder / "broker")
    wave = Wave(broker.bootstrap, broker.supports_idempotence, folder, args.units)
    try:
        wave.start()
        fired = wave.fire()
        first_mail = first_hook = last_mail = last_hook = None
        while not wave.complete():
            mails, hooks = wave.delivered()
            now = time.monotonic()
            if mails and first_mail is None:
                first_mail = now
            if hooks and first_hook is None:
                first_hook = now
            if len(mails) >= args.units and last_mail is None:
                last_mail = now
            if len(hooks) >= args.units and last_hook is None:
                last_hook = now
            assert now - fired < 600, wave.summary()
            time.sleep(0.2)  # the receivers share this process: look rarely
        done = time.monotonic()
        mails, hooks = wave.delivered()
        last_mail, last_hook = last_mail or done, last_hook or done
        print(f"{args.units} units missing 2026-W04 at its first reminder step; "
              "email to aiosmtpd, webhooks to a local receiver, rate limits off")
        for name, first, last, got in (("email", first_mail, last_mail, mails),
                                       ("webhook", first_hook, last_hook, hooks)):
            span = last - (first or fired)
            print(f"  {name:8} {len(got):6} delivered, {sum(got.values()) - len(got)} twice | "
                  f"{len(got) / span:7.0f} msg/s while delivering | first after "
                  f"{(first or fired) - fired:5.2f} s, last after {last - fired:6.2f} s")
        print(f"  wave: step due -> last delivery {done - fired:.2f} s (target < 60 s)")
    finally:
        wave.close()
        broker.stop()


if __name__ == "__main__":
    main()

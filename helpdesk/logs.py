"""One clock in every log line: UTC, with the zone shown.

Django sets the process's local zone to TIME_ZONE, so `logging`'s default (local time, no zone)
wrote Amsterdam time for web and worker while Radicale and honcho wrote the machine's clock.
Every process of `make run` now writes UTC: this formatter for web, worker and beat (Celery uses
the project's LOGGING: helpdesk/celery.py), and `TZ=UTC` for Radicale and honcho (Makefile).
"""

import logging
import time

FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
# Radicale's own shape ("[2026-03-02 09:00:00 +0000]"), so the processes' lines read alike.
DATE_FORMAT = "%Y-%m-%d %H:%M:%S +0000"


class UTCFormatter(logging.Formatter):
    """A log record's time in UTC, "2026-03-02 09:00:00 +0000", whatever the process's zone."""

    converter = time.gmtime

    def __init__(self, fmt: str = FORMAT, datefmt: str = DATE_FORMAT, **kwargs):
        super().__init__(fmt, datefmt, **kwargs)

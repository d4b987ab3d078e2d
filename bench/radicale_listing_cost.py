"""What Radicale spends on the ways a client can list a whole calendar (issue 14): is a full
listing cheaper for the server as one sync-collection REPORT with the data (RFC 6578 3.2 with
RFC 4791 9.6, what the helpdesk sends), or as vdirsyncer does it, the members first and their
data in calendar-multiget REPORTs (RFC 4791 7.9)?

Radicale's WSGI application is called in this process (no HTTP, no client), on a calendar of
`sample_entries`, each request kind in turn for several rounds; each figure is the median CPU
time of the server's own work for one request (or, for the multigets, the whole calendar's worth
of them). CPU time, not wall time: the figure does not move with what else the machine runs,
and the server's work is what the comparison is about. Prints figures; asserts nothing.

Run: `.venv/bin/python bench/radicale_listing_cost.py [--entries 5000] [--rounds 3] [--batch 250]`
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from wsgiref.util import setup_testing_defaults

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "tech", "tech-pw"
DAV = "{DAV:}"
PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/>'
    "</D:prop></D:propfind>"
)


def sync_collection(with_data: bool) -> str:
    """An initial sync-collection REPORT (RFC 6578 3.2) asking for getetag and (`with_data`)
    calendar-data: the body the helpdesk sends."""
    data = "<C:calendar-data/>" if with_data else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:sync-token></D:sync-token><D:sync-level>1</D:sync-level>"
        f"<D:prop><D:getetag/>{data}</D:prop></D:sync-collection>"
    )


def multiget(hrefs: list[str]) -> str:
    """A calendar-multiget REPORT (RFC 4791 7.9) for the getetag and calendar-data of `hrefs`."""
    listed = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{listed}</C:calendar-multiget>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=250, help="members a calendar-multiget asks for")
    args = parser.parse_args()

    import logging

    import radicale

    from tests.peers.radicale import _configuration, _write_users, sample_entries

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="radicale-cost-") as tmp:
        folder = Path(tmp)
        _write_users(folder, {USER: PASSWORD})
        app = radicale.Application(_configuration(folder))
        login = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        def call(method: str, path: str, body: str = "", depth: str | None = None) -> tuple[str, bytes]:
            environ: dict = {}
            setup_testing_defaults(environ)
            data = body.encode()
            environ.update(
                REQUEST_METHOD=method,
                PATH_INFO=path,
                CONTENT_LENGTH=str(len(data)),
                HTTP_AUTHORIZATION=login,
                **{"wsgi.input": io.BytesIO(data)},
            )
            if depth is not None:
                environ["HTTP_DEPTH"] = depth
            status = []
            answer = b"".join(app(environ, lambda line, _headers: status.append(line)))
            return status[0], answer

        calendar = f"/{USER}/work/"
        call("MKCOL", f"/{USER}/")
        call("MKCALENDAR", calendar)
        store = folder / "collections" / "collection-root" / USER / "work"
        for name, text in sample_entries(args.entries, date.today() + timedelta(days=1)).items():
            (store / name).write_text(text, encoding="utf-8", newline="")
        began = time.perf_counter()
        status, listing = call("REPORT", calendar, sync_collection(False), "1")  # Radicale's first read
        print(f"{args.entries} entries; Radicale's first read: {time.perf_counter() - began:.1f} s ({status})")
        hrefs = [
            element.text
            for element in etree.fromstring(listing).iter(DAV + "href")
            if element.text and element.text.endswith(".ics")
        ]
        assert len(hrefs) == args.entries, len(hrefs)

        def all_multigets() -> None:
            for at in range(0, len(hrefs), args.batch):
                call("REPORT", calendar, multiget(hrefs[at : at + args.batch]))

        kinds = {
            "sync-collection with data (the helpdesk)": lambda: call("REPORT", calendar, sync_collection(True), "1"),
            "sync-collection, etags only": lambda: call("REPORT", calendar, sync_collection(False), "1"),
            "PROPFIND Depth 1, etags (vdirsyncer's list)": lambda: call("PROPFIND", calendar, PROPFIND, "1"),
            f"calendar-multiget, all in {args.batch}s": all_multigets,
        }
        spent: dict[str, list[float]] = {name: [] for name in kinds}
        for _round in range(args.rounds):
            for name, run in kinds.items():
                began = time.process_time()
                run()
                spent[name].append(time.process_time() - began)
    medians = {name: statistics.median(values) for name, values in spent.items()}
    names = list(medians)
    print(f"\nRadicale's CPU time, median of {args.rounds} rounds, {args.entries} entries")
    for name in names:
        print(f"  {name:<48} {medians[name]:6.3f} s")
    one, etags, propfind, multigets = (medians[name] for name in names)
    both, plain = etags + multigets, propfind + multigets
    print(f"  listing, then multigets (token kept): {both:6.3f} s = {both / one:.2f}x the one REPORT")
    print(f"  PROPFIND, then multigets (no token):   {plain:6.3f} s = {plain / one:.2f}x")
    print(f"  before the first byte of data: one REPORT {one:.3f} s, listing first {etags:.3f} s ({etags / one:.2f}x)")


if __name__ == "__main__":
    main()

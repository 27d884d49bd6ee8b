"""Pagination by nextToken is stable under concurrent inserts: while one
client pages through the suppression list, the events and the
identities, another inserts rows before, between and after the
positions already reached.  Every row that existed when paging started
is seen exactly once, no row is seen twice, pages never exceed
pageSize, and the order holds.  Usage: test_paging.py HTTP_TESTD."""

import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from lib import Daemon, Tmp, check, done, dsn  # noqa: E402

tmp = Tmp()
d = Daemon(tmp, "paging")
c = d.client()
rnd = random.Random(7)


def name(i):
    return "%s%04d" % ("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz")
                               for _ in range(6)), i)


# ---- seed ---------------------------------------------------------------
seed_addr = sorted("%s@example.com" % name(i) for i in range(400))
lines = "".join('{"address": "%s", "reason": "BOUNCE"}\n' % a
                for a in seed_addr)
r = c.request("POST", "/v1/suppression/import", lines,
              ctype="application/x-ndjson")
check(r.status == 200 and r.json["imported"] == 400, "seed: %r" % r)
seed_ids = sorted("%s.example" % name(i) for i in range(120))
r = c.request("POST", "/v1/sends", {"sends": [
    {"identity": i, "count": 10} for i in seed_ids]})
check(r.status == 200, "seed identities: %r" % r)
seed_events = set()
for i in range(120):
    r = c.request("POST", "/v1/messages", dsn("seed%03d@example.net" % i,
                                              n=i))
    if check(r.status == 202, "seed event %d: %r" % (i, r)):
        seed_events.update(r.json["eventIds"])


class Inserter(threading.Thread):
    """Inserts rows while the main thread pages, until told to stop."""

    def __init__(self, kind):
        super().__init__(daemon=True)
        self.kind = kind
        self.stop = threading.Event()
        self.n = 0
        self.errors = 0
        self.rnd = random.Random(kind)

    def run(self):
        k = d.client()
        while not self.stop.is_set() and self.n < 2000:
            i = 10000 + self.n
            if self.kind == "suppression":
                a = "%s%d@example.com" % (self.rnd.choice("abmnyz"), i)
                r = k.request("PUT", "/v1/suppression/" + a,
                              {"reason": "COMPLAINT"})
            elif self.kind == "identities":
                r = k.request("POST", "/v1/sends", {
                    "identity": "%s%d.example" % (self.rnd.choice("abmz"),
                                                 i), "count": 1})
            else:
                r = k.request("POST", "/v1/messages",
                              dsn("late%05d@example.net" % i, n=i))
            if r.status not in (200, 202):
                self.errors += 1
            self.n += 1
        k.close()


def page_all(path, key, size, kind):
    ins = Inserter(kind)
    ins.start()
    seen, tok, pages, big = [], None, 0, 0
    while pages < 1000:
        sep = "&" if "?" in path else "?"
        r = c.get(path + sep + "pageSize=%d" % size +
                  ("&nextToken=" + tok if tok else ""))
        if not check(r.status == 200, "%s page %d: %r" % (path, pages, r)):
            break
        items = r.json[key]
        big += len(items) > size
        seen += items
        pages += 1
        tok = r.json.get("nextToken")
        if not tok:
            break
        # Give the inserter room between pages.
        if pages % 3 == 0:
            threading.Event().wait(0.002)
    ins.stop.set()
    ins.join()
    check(ins.errors == 0, "%s: inserts failed: %d" % (kind, ins.errors))
    check(big == 0, "%s: a page larger than pageSize" % kind)
    check(ins.n > 0, "%s: inserts ran meanwhile (%d)" % (kind, ins.n))
    return seen, pages


# ---- suppression --------------------------------------------------------
rows, pages = page_all("/v1/suppression?list=account", "suppressedDestinations",
                       23, "suppression")
addrs = [e["emailAddress"] for e in rows]
check(len(addrs) == len(set(addrs)), "suppression: no duplicates (%d rows)"
      % len(addrs))
check(set(seed_addr) <= set(addrs), "suppression: every seeded entry seen "
      "(%d missing)" % len(set(seed_addr) - set(addrs)))
check(addrs == sorted(addrs), "suppression: in order")

# ---- identities ---------------------------------------------------------
rows, pages = page_all("/v1/identities", "identities", 11, "identities")
ids = [x["identity"] for x in rows]
check(len(ids) == len(set(ids)), "identities: no duplicates")
check(set(seed_ids) <= set(ids), "identities: every seeded one seen (%d "
      "missing)" % len(set(seed_ids) - set(ids)))
check(ids == sorted(ids), "identities: in order")

# ---- events -------------------------------------------------------------
rows, pages = page_all("/v1/events", "events", 17, "events")
evs = [e["id"] for e in rows]
check(len(evs) == len(set(evs)), "events: no duplicates (%d)" % len(evs))
check(seed_events <= set(evs), "events: every seeded event seen (%d "
      "missing)" % len(seed_events - set(evs)))
keys = [(e["time"], int(e["id"])) for e in rows]
check(keys == sorted(keys, reverse=True), "events: newest first")

c.close()
check(d.stop() == 0, "exit: " + d.log_text()[-1000:])
tmp.cleanup()
done()

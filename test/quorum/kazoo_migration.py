#!/usr/bin/python3
"""One kazoo session under a steady write load (test/quorum/rolling-migration.test.ts).

Usage: /usr/bin/python3 kazoo_migration.py HOSTS PERIOD_MS

HOSTS is tried in the order given (the first is this session's home server). Creates
/migration/kazoo (persistent) and /migration/eph-kazoo (ephemeral), then every PERIOD_MS
creates /migration/kazoo/n-SEQ with data "kazoo:SEQ", one at a time. Reports on stdout, one
JSON document a line:
  {"ready": SESSION_HEX}                  once both nodes exist
  {"acked": PATH, "data": DATA}           a create the server acknowledged
  {"error": NAME, "path": PATH}           a create that failed (ConnectionLoss while a server restarts)
  {"state": "SUSPENDED"|"CONNECTED"|"LOST"}   kazoo's connection states (LOST: the session expired)
stdin "stop": stop writing, print {"stopped": SESSION_HEX, "sent": N}; "close": close the session,
print {"closed": true} and exit. Every call has a deadline, so a server that never answers shows
as an error instead of a hang.
"""

import json
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

SESSION_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 30.0

print_lock = threading.Lock()


def report(document):
    with print_lock:
        sys.stdout.write(json.dumps(document) + "\n")
        sys.stdout.flush()


def session_hex(client):
    return "%016x" % client.client_id[0]


def write_loop(client, period_s, stopping):
    seq = 0
    next_at = time.monotonic()
    while not stopping.is_set():
        seq += 1
        path = "/migration/kazoo/n-%d" % seq
        data = "kazoo:%d" % seq
        try:
            client.create_async(path, data.encode()).get(timeout=CALL_TIMEOUT_S)
            report({"acked": path, "data": data})
        except Exception as error:  # every failure is reported; the test decides which are allowed
            report({"error": type(error).__name__, "path": path})
        next_at += period_s
        stopping.wait(max(0.0, next_at - time.monotonic()))
    return seq


def main():
    hosts, period_ms = sys.argv[1], int(sys.argv[2])
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S, randomize_hosts=False,
                         connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0})
    client.add_listener(lambda state: report({"state": {KazooState.SUSPENDED: "SUSPENDED", KazooState.CONNECTED: "CONNECTED",
                                                        KazooState.LOST: "LOST"}.get(state, str(state))}))
    client.start(timeout=CALL_TIMEOUT_S)
    client.ensure_path("/migration/kazoo")
    client.create("/migration/eph-kazoo", session_hex(client).encode(), ephemeral=True)
    report({"ready": session_hex(client)})

    stopping = threading.Event()
    sent = [0]
    writer = threading.Thread(target=lambda: sent.__setitem__(0, write_loop(client, period_ms / 1000.0, stopping)), daemon=True)
    writer.start()
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            stopping.set()
            writer.join(CALL_TIMEOUT_S + 5)
            report({"stopped": session_hex(client), "sent": sent[0]})
        elif command == "close":
            break
    stopping.set()
    client.stop()
    client.close()
    report({"closed": True})


if __name__ == "__main__":
    main()

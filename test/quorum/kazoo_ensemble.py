#!/usr/bin/python3
"""kazoo against every server of an ensemble (test/quorum/ensemble-clients.test.ts).

Usage: /usr/bin/python3 kazoo_ensemble.py PORT [PORT ...]

Through each server alone (127.0.0.1:PORT_i): create /kazoo-i, set it, read it back; then
through every server j: sync /kazoo-i and read it. Prints one JSON document on stdout:
{"own": [{"port", "created", "version", "data"}], "cross": [{"writer", "reader", "data"}]}.
Every call has a deadline, so a server that never answers fails the run instead of hanging it.
"""

import json
import sys

from kazoo.client import KazooClient

TIMEOUT_S = 15.0


def connect(port):
    client = KazooClient(hosts="127.0.0.1:%d" % port, timeout=TIMEOUT_S, connection_retry={"max_tries": 3})
    client.start(timeout=TIMEOUT_S)
    return client


def main():
    ports = [int(p) for p in sys.argv[1:]]
    clients = [connect(p) for p in ports]
    own = []
    for i, (port, client) in enumerate(zip(ports, clients)):
        path = "/kazoo-%d" % i
        created = client.create(path, b"first")
        stat = client.set(path, ("kazoo via %d" % port).encode())
        data, _ = client.get(path)
        own.append({"port": port, "created": created, "version": stat.version, "data": data.decode()})
    cross = []
    for i, writer in enumerate(ports):
        for reader, client in zip(ports, clients):
            client.sync("/kazoo-%d" % i)
            data, _ = client.get("/kazoo-%d" % i)
            cross.append({"writer": writer, "reader": reader, "data": data.decode()})
    for client in clients:
        client.stop()
        client.close()
    print(json.dumps({"own": own, "cross": cross}))


if __name__ == "__main__":
    main()

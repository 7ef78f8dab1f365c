#!/usr/bin/python3
"""Compatibility scenarios driven by kazoo (python3-kazoo), a second real client.

Usage: /usr/bin/python3 kazoo_scenarios.py PORT [SCENARIO-NAME ...]

Runs each scenario against 127.0.0.1:PORT and prints one JSON document on
stdout: {"scenarios": [{"name", "entries", "aborted"}]}. Entries carry raw
values (zxids and session ids as hex strings, times as integers); the
TypeScript side masks and compares them (test/support/transcript.ts).

Every step records the reply's header zxid and the watch notifications that
arrived on that connection before the reply: both are logged from kazoo's
connection thread in wire order (kazoo itself only hands events to registered
watchers, later, on another thread). Every call has a deadline, so a server
that never answers fails the step instead of hanging the run.
"""

import json
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.protocol.connection import _CONNECTION_DROP
from kazoo.protocol.serialization import Watch
from kazoo.protocol.states import KazooState, ZnodeStat
from kazoo.security import ACL, Id, make_digest_acl, OPEN_ACL_UNSAFE

CALL_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0

EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}
STATE_NAMES = {0: "Disconnected", 3: "SyncConnected", -112: "Expired"}


def hexid(value):
    return hex(value) if isinstance(value, int) else value


def show_stat(stat):
    if stat is None:
        return None
    return {
        "czxid": hexid(stat.czxid),
        "mzxid": hexid(stat.mzxid),
        "ctime": stat.ctime,
        "mtime": stat.mtime,
        "version": stat.version,
        "cversion": stat.cversion,
        "aversion": stat.aversion,
        "ephemeralOwner": hexid(stat.ephemeralOwner),
        "dataLength": stat.dataLength,
        "numChildren": stat.numChildren,
        "pzxid": hexid(stat.pzxid),
    }


def show_data(data):
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
        if all(0x20 <= ord(ch) < 0x7F for ch in text):
            return text
    except UnicodeDecodeError:
        pass
    return "hex:" + data.hex()


def show_acl(acl):
    return {"perms": acl.perms, "scheme": acl.id.scheme, "id": acl.id.id}


def show_result(value):
    """A kazoo result as transcript JSON (ZnodeStat, data tuples, lists, exceptions)."""
    if isinstance(value, ZnodeStat):
        return {"stat": show_stat(value)}
    if isinstance(value, Exception):
        return {"error": type(value).__name__}
    if value is True or value is False or value is None:
        return {"result": value}
    if isinstance(value, str):
        return {"path": value}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], ZnodeStat):
        first, stat = value
        if isinstance(first, bytes) or first is None:
            return {"data": show_data(first), "stat": show_stat(stat)}
        if isinstance(first, list) and (not first or isinstance(first[0], ACL)):
            return {"acl": [show_acl(a) for a in first], "stat": show_stat(stat)}
        if isinstance(first, list):
            return {"children": sorted(first), "stat": show_stat(stat)}
        if isinstance(first, str):
            return {"path": first, "stat": show_stat(stat)}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return {"children": sorted(value)}
        return {"results": [show_result(v) for v in value]}
    return {"repr": repr(value)}


def noop_watch(_event):
    pass


class Session:
    """One KazooClient with a wire log tapped from its connection thread."""

    def __init__(self, name, port, env, **options):
        self.name = name
        self.env = env
        self.wire = []  # appended by kazoo's connection thread; list.append is atomic
        self.cursor = 0
        self.states = []
        self.client = KazooClient(hosts="127.0.0.1:%d" % port, timeout=CONNECT_TIMEOUT_S, **options)
        self.client.add_listener(lambda state: self.states.append(str(state)))
        conn = self.client._connection
        read_response = conn._read_response
        read_watch_event = conn._read_watch_event

        def tapped_response(header, buffer, offset):
            self.wire.append({"kind": "reply", "xid": header.xid, "zxid": header.zxid, "err": header.err})
            return read_response(header, buffer, offset)

        def tapped_watch_event(buffer, offset):
            watch, _ = Watch.deserialize(buffer, offset)
            self.wire.append(
                {
                    "kind": "event",
                    "event": EVENT_NAMES.get(watch.type, "Event(%d)" % watch.type),
                    "path": watch.path,
                    "state": STATE_NAMES.get(watch.state, "State(%d)" % watch.state),
                }
            )
            return read_watch_event(buffer, offset)

        conn._read_response = tapped_response
        conn._read_watch_event = tapped_watch_event

    def start(self):
        self.client.start(timeout=CONNECT_TIMEOUT_S)
        self.env.step(
            "connect %s" % self.name,
            {"sessionId": hexid(self.client.client_id[0]), "timeOut": self.client._session_timeout},
        )

    def take_events(self, end):
        events = [
            {"event": e["event"], "path": e["path"], "state": e["state"]}
            for e in self.wire[self.cursor:end]
            if e["kind"] == "event"
        ]
        self.cursor = max(self.cursor, end)
        return events

    def call(self, label, method, *args, **kwargs):
        """Run client.<method>_async(...) with a deadline and record the step."""
        start = len(self.wire)
        fn = getattr(self.client, method + "_async")
        try:
            result = fn(*args, **kwargs).get(timeout=CALL_TIMEOUT_S)
            fields = show_result(result)
        except Exception as error:  # noqa: BLE001 - the error class is the result
            fields = {"error": type(error).__name__}
        return self._record(label, start, fields)

    def commit(self, label, transaction):
        start = len(self.wire)
        try:
            result = transaction.commit_async().get(timeout=CALL_TIMEOUT_S)
            fields = show_result(list(result))
        except Exception as error:  # noqa: BLE001
            fields = {"error": type(error).__name__}
        return self._record(label, start, fields)

    def _record(self, label, start, fields):
        reply_index = None
        for i in range(len(self.wire) - 1, start - 1, -1):
            if self.wire[i]["kind"] == "reply":
                reply_index = i
                break
        entry = {}
        if reply_index is not None:
            entry["zxid"] = hexid(self.wire[reply_index]["zxid"])
            events = self.take_events(reply_index)
            self.cursor = reply_index + 1
        else:
            events = self.take_events(len(self.wire))
        entry.update(fields)
        if events:
            entry["events"] = events
        self.env.step("%s %s" % (self.name, label), entry)
        return fields

    def add_auth(self, scheme, credential):
        try:
            self.client.add_auth_async(scheme, credential).get(timeout=CALL_TIMEOUT_S)
            fields = {"result": True}
        except Exception as error:  # noqa: BLE001
            fields = {"error": type(error).__name__}
        self.env.step("%s add_auth %s %s" % (self.name, scheme, credential), fields)

    def wait_for(self, condition, what, timeout_s=15.0):
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("timed out after %.0f s waiting for %s: %s" % (timeout_s, self.name, what))
            threading.Event().wait(0.01)  # poll interval of a condition wait, not a synchronisation sleep

    def stop(self):
        try:
            self.client.stop()
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


class Env:
    def __init__(self, port):
        self.port = port
        self.entries = []
        self.sessions = []

    def step(self, label, fields=None):
        entry = {"step": label}
        entry.update(fields or {})
        self.entries.append(entry)

    def connect(self, name, **options):
        session = Session(name, self.port, self, **options)
        self.sessions.append(session)
        session.start()
        return session

    def close_all(self):
        for session in self.sessions:
            session.stop()


# ---- scenarios ----------------------------------------------------------------


def scenario_basics(env):
    c1 = env.connect("c1")
    c2 = env.connect("c2")
    c1.call("create /kb", "create", "/kb", b"root")
    c1.call("create /kb/p data", "create", "/kb/p", b"persistent")
    c1.call("create /kb/p again", "create", "/kb/p", b"again")
    c1.call("create /kb/missing/x", "create", "/kb/missing/x", b"x")
    c1.call("create /kb/e ephemeral", "create", "/kb/e", b"eph", ephemeral=True)
    c1.call("create /kb/e/child", "create", "/kb/e/child", b"x")
    c1.call("create /kb/s- sequence", "create", "/kb/s-", b"seq", sequence=True)
    c1.call("create /kb/es- ephemeral sequence", "create", "/kb/es-", b"es", ephemeral=True, sequence=True)
    c1.call("create /kb/c2 include_data", "create", "/kb/c2", b"two", include_data=True)
    c1.call("get /kb/p", "get", "/kb/p")
    c1.call("set /kb/p version 0", "set", "/kb/p", b"v1", version=0)
    c1.call("set /kb/p version 0 again", "set", "/kb/p", b"v2", version=0)
    c1.call("set /kb/p any version", "set", "/kb/p", b"v2")
    c1.call("exists /kb/p", "exists", "/kb/p")
    c1.call("exists /kb/nope", "exists", "/kb/nope")
    c1.call("get /kb/nope", "get", "/kb/nope")
    c2.call("get /kb/e (owned by c1)", "get", "/kb/e")
    c1.call("get_children /kb", "get_children", "/kb")
    c1.call("get_children /kb include_data", "get_children", "/kb", include_data=True)
    c1.call("delete /kb/p version 7", "delete", "/kb/p", version=7)
    c1.call("delete /kb (not empty)", "delete", "/kb")
    c1.call("delete /kb/p version 2", "delete", "/kb/p", version=2)
    c1.call("delete /kb/p again", "delete", "/kb/p")
    c1.call("sync /kb", "sync", "/kb")
    c1.call("get /zookeeper", "get", "/zookeeper")
    c1.call("get_children / include_data", "get_children", "/", include_data=True)
    c1.stop()
    env.step("c1 stopped")
    c2.call("get_children /kb after c1 closed", "get_children", "/kb", include_data=True)


def scenario_transactions(env):
    c1 = env.connect("c1")
    c1.call("create /kt", "create", "/kt", b"t")
    t = c1.client.transaction()
    t.create("/kt/a", b"a")
    t.set_data("/kt", b"t2", version=0)
    t.check("/kt", 1)
    t.create("/kt/s-", b"s", sequence=True)
    t.create("/kt/e", b"e", ephemeral=True)
    t.delete("/kt/a", version=0)
    c1.commit("commit create/set/check/create seq/create eph/delete", t)
    c1.call("get_children /kt", "get_children", "/kt", include_data=True)
    t = c1.client.transaction()
    t.create("/kt/b", b"b")
    t.check("/kt", 99)
    t.set_data("/kt", b"never")
    c1.commit("commit with a failing check in the middle", t)
    t = c1.client.transaction()
    t.create("/kt/c", b"c")
    t.delete("/kt/missing")
    c1.commit("commit with a failing delete at the end", t)
    t = c1.client.transaction()
    t.create("/kt/d", b"d")
    t.create("/kt/d", b"d")
    c1.commit("commit creating the same node twice", t)
    c1.call("get /kt", "get", "/kt")
    c1.call("get_children /kt", "get_children", "/kt", include_data=True)


def scenario_acl(env):
    c1 = env.connect("c1", auth_data=[("digest", "kuser:kpass")])
    c2 = env.connect("c2")
    digest = make_digest_acl("kuser", "kpass", all=True)
    c1.call("create /ka with digest acl", "create", "/ka", b"secret", acl=[digest])
    c1.call("get_acls /ka", "get_acls", "/ka")
    c1.call("get /ka", "get", "/ka")
    c2.call("get /ka without auth", "get", "/ka")
    c2.call("set /ka without auth", "set", "/ka", b"x")
    c2.call("exists /ka without auth", "exists", "/ka")
    c2.add_auth("digest", "kuser:kpass")
    c2.call("get /ka after add_auth", "get", "/ka")
    c1.call("set_acls /ka read-only world", "set_acls", "/ka", [ACL(1, Id("world", "anyone"))])
    c1.call("set /ka read-only", "set", "/ka", b"x")
    c1.call("get_acls /ka", "get_acls", "/ka")
    c1.call("create /ka2 with an empty acl list", "create", "/ka2", b"x", acl=[])
    c2.call("create /ka3 open", "create", "/ka3", b"x", acl=OPEN_ACL_UNSAFE)


def scenario_watches(env):
    c1 = env.connect("c1")
    c2 = env.connect("c2")
    c2.call("create /kw", "create", "/kw", b"w")
    c1.call("get /kw watch", "get", "/kw", watch=noop_watch)
    c1.call("exists /kw/new watch", "exists", "/kw/new", watch=noop_watch)
    c1.call("get_children /kw watch", "get_children", "/kw", watch=noop_watch)
    c2.call("set /kw", "set", "/kw", b"w1")
    c2.call("create /kw/new", "create", "/kw/new", b"n")
    c1.call("sync /", "sync", "/")
    c1.call("get /kw watch", "get", "/kw", watch=noop_watch)
    c1.call("set /kw (own write)", "set", "/kw", b"w2")
    c1.call("get /kw/new watch", "get", "/kw/new", watch=noop_watch)
    c2.call("delete /kw/new", "delete", "/kw/new")
    c1.call("exists /kw/new", "exists", "/kw/new")


def scenario_reconnect(env):
    c1 = env.connect("c1")
    c2 = env.connect("c2")
    c1.call("create /kr", "create", "/kr", b"r")
    c1.call("create /kr/eph ephemeral", "create", "/kr/eph", b"e", ephemeral=True)
    c1.call("get /kr watch", "get", "/kr", watch=noop_watch)
    session_before = c1.client.client_id[0]
    c1.states.clear()
    c1.client._call(_CONNECTION_DROP, c1.client.handler.async_result())
    c1.wait_for(lambda: "SUSPENDED" in c1.states and c1.states[-1] == "CONNECTED", "reconnect after the dropped connection")
    env.step(
        "c1 connection dropped and re-established",
        {"states": list(c1.states), "sameSession": c1.client.client_id[0] == session_before},
    )
    c2.call("get /kr/eph (still there)", "get", "/kr/eph")
    c2.call("set /kr", "set", "/kr", b"r1")
    c1.call("sync / (kazoo does not re-set watches: no event)", "sync", "/")
    c1.call("get /kr", "get", "/kr")
    c1.call("get /kr watch", "get", "/kr", watch=noop_watch)
    c2.call("set /kr again", "set", "/kr", b"r2")
    c1.call("sync / (a watch set on the new connection fires)", "sync", "/")


SCENARIOS = [
    ("kazoo basics", scenario_basics),
    ("kazoo transactions", scenario_transactions),
    ("kazoo ACLs", scenario_acl),
    ("kazoo watches", scenario_watches),
    ("kazoo reconnect after a dropped connection", scenario_reconnect),
]


def main():
    port = int(sys.argv[1])
    wanted = set(sys.argv[2:])
    out = []
    for name, run in SCENARIOS:
        if wanted and name not in wanted:
            continue
        env = Env(port)
        aborted = None
        try:
            run(env)
        except Exception as error:  # noqa: BLE001
            aborted = "%s: %s" % (type(error).__name__, error)
            env.step("scenario aborted", {"error": aborted})
            traceback.print_exc(file=sys.stderr)
        finally:
            env.close_all()
        out.append({"name": name, "entries": env.entries, "aborted": aborted})
    json.dump({"scenarios": out}, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

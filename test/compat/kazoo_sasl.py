#!/usr/bin/python3
"""SASL DIGEST-MD5 logins with kazoo (python3-kazoo + python3-pure-sasl).

Usage: /usr/bin/python3 kazoo_sasl.py PORT

Prints one JSON document: a list of {"step", "result"} where result is a value
or the name of the exception kazoo raised. Every call has a deadline.
"""

import json
import sys

from kazoo.client import KazooClient
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, Permissions

TIMEOUT_S = 10.0


def client(port, user=None, password=None):
    options = None
    if user is not None:
        options = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    return KazooClient(hosts="127.0.0.1:%d" % port, timeout=TIMEOUT_S, sasl_options=options,
                       connection_retry={"max_tries": 0}, command_retry={"max_tries": 0})


def outcome(fn):
    try:
        value = fn()
    except Exception as err:  # the exception kazoo raises is the result
        return type(err).__name__
    return value


def acls(result):
    return [[a.perms, a.id.scheme, a.id.id] for a in result[0]]


def main():
    port = int(sys.argv[1])
    steps = []

    def step(name, fn):
        steps.append({"step": name, "result": outcome(fn)})

    bob = client(port, "bob", "bobsecret")
    step("bob: connect", lambda: bob.start(timeout=TIMEOUT_S))
    sasl_bob = [ACL(Permissions.ALL, Id("sasl", "bob"))]
    step("bob: create /k with sasl:bob", lambda: bob.create("/k", b"kazoo", acl=sasl_bob))
    step("bob: get_acls /k", lambda: acls(bob.get_acls("/k")))
    step("bob: get /k", lambda: bob.get("/k")[0].decode())
    step("bob: create /k2 with auth", lambda: bob.create("/k2", b"x", acl=[ACL(Permissions.READ, Id("auth", ""))]))
    step("bob: get_acls /k2", lambda: acls(bob.get_acls("/k2")))
    bob.stop()
    bob.close()

    anonymous = client(port)
    step("anonymous: connect", lambda: anonymous.start(timeout=TIMEOUT_S))
    step("anonymous: get /k", lambda: anonymous.get("/k")[0].decode())
    step("anonymous: set /k", lambda: anonymous.set("/k", b"y") and None)
    step("anonymous: create /k3 with sasl:bob", lambda: anonymous.create("/k3", b"x", acl=sasl_bob))
    anonymous.stop()
    anonymous.close()

    wrong = client(port, "bob", "wrong")
    step("wrong password: connect", lambda: wrong.start(timeout=TIMEOUT_S))
    step("wrong password: get /k", lambda: wrong.get("/k")[0].decode())
    wrong.stop()
    wrong.close()

    admin = client(port, "admin", "adminsecret")
    step("admin: connect", lambda: admin.start(timeout=TIMEOUT_S))
    step("admin: get /k", lambda: admin.get("/k")[0].decode())
    step("admin: delete /k", lambda: admin.delete("/k"))
    admin.stop()
    admin.close()

    print(json.dumps(steps))


if __name__ == "__main__":
    main()

# A kazoo client with read_only=True against one server (argv[1]: its port), for
# ensemble-readonly.test.ts: it connects while the server is read-only, reads /a, tries a
# create and a sync, prints READY, then waits (at most argv[2] seconds) to be connected
# read-write again (kazoo reconnects when the server closes its read-only connection) and
# creates /c. One JSON line per step on stdout.
import json
import sys
import time

from kazoo.client import KazooClient

port, wait_s = sys.argv[1], float(sys.argv[2])


def say(**kv):
    print(json.dumps(kv), flush=True)


zk = KazooClient(hosts=f'127.0.0.1:{port}', read_only=True, timeout=10)
states = []
zk.add_listener(lambda s: states.append(str(s)))
zk.start(timeout=30)
say(step='connected', state=zk.client_state, sid_server=zk.client_id[0] >> 56)
say(step='get', data=zk.get('/a')[0].decode())
for name, call in (('create', lambda: zk.create('/b', b'x')), ('sync', lambda: zk.sync('/')), ('set', lambda: zk.set('/a', b'y'))):
    try:
        call()
        say(step=name, error=None)
    except Exception as e:  # the error kazoo raises is what the test compares
        say(step=name, error=type(e).__name__)
say(step='READY')
deadline = time.time() + wait_s
while time.time() < deadline and zk.client_state != 'CONNECTED':
    time.sleep(0.1)
say(step='reconnected', state=zk.client_state, states=states)
zk.create('/c', b'y')
say(step='create after', data=zk.get('/c')[0].decode())
zk.stop()

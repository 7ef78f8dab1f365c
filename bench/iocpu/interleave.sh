#!/bin/bash
# Server CPU per op, A/B on a shared machine: every server is started once and left idle while
# the others are measured; the load generator's runs alternate between them, round by round
# (round 0, with setup, is not recorded), so a change in the machine's load hits all alike.
# usage: bench/iocpu/interleave.sh LABEL ROUNDS SIDE...
#   SIDE: a zooid checkout's root, 'zk' (Apache ZooKeeper 3.8), or 'bare' (bench/iocpu/bare-answerer.ts),
#   optionally :VALUE_BYTES (e.g. zk:100); LG: the load generator's options (default below)
# prints medians [each run] per side; the runs go to $OUT_DIR/interleave-LABEL.jsonl
repo=$(cd "$(dirname "$0")/../.." && pwd)
node=$repo/node_modules/.bin/node
label=$1; rounds=$2; shift 2
out=${OUT_DIR:-/tmp}/interleave-$label.jsonl; : > $out
declare -a pids ports
i=0
for side in "$@"; do
  root=${side%%:*}
  port=$((20000 + RANDOM % 20000)); d=$(mktemp -d /tmp/zooid-iocpu.XXXX)
  printf "tickTime=2000\ndataDir=$d\nclientPort=$port\nmaxClientCnxns=0\nadmin.enableServer=false\nforceSync=yes\n" > $d/zoo.cfg
  if [ $root = zk ]; then (cd $d; exec java -Xmx256m -XX:+UseSerialGC -Dzookeeper.log.dir=$d -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain $d/zoo.cfg > $d/log 2>&1 < /dev/null) &
  elif [ $root = bare ]; then (cd $repo; exec $node bench/iocpu/bare-answerer.ts $port ${VB:-1024} > $d/log 2>&1 < /dev/null) &
  else (cd $root; exec $node engine/cli.ts server $d/zoo.cfg > $d/log 2>&1 < /dev/null) & fi
  pids[$i]=$!; ports[$i]=$port; i=$((i+1))
done
for p in "${ports[@]}"; do for k in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done; done
lg=${LG:---connections 200 --outstanding 1 --read-pct 100 --value-bytes 1024 --keys 1000 --threads 2 --duration 3s --warmup 1s}
for r in $(seq 0 $rounds); do   # round 0: setup and warm-up, not recorded
  j=0
  for side in "$@"; do
    root=${side%%:*}; vb=${side#*:}; [ "$vb" = "$side" ] && vb=""
    ns=--no-setup; [ $r = 0 ] && [ $root != bare ] && ns=""
    [ $r = 0 ] && [ $root = bare ] && ns=--no-setup
    res=$(cd $repo && $node bench/iocpu/run-one.ts ${pids[$j]} $ns --hosts 127.0.0.1:${ports[$j]} $lg ${vb:+--value-bytes $vb} 2>/dev/null | tail -1)
    [ $r -gt 0 ] && echo "{\"side\":\"$side\",\"round\":$r,\"load\":$(cut -d' ' -f1 /proc/loadavg),\"r\":$res}" >> $out
    j=$((j+1))
  done
done
for p in "${pids[@]}"; do kill $p; wait $p 2>/dev/null; done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const b = [...a].sort((x, y) => x - y); const m = b.length >> 1; return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2; };
const sides = [...new Set(rows.map((r) => r.side))];
for (const s of sides) {
  const rs = rows.filter((r) => r.side === s && r.r && r.r.ops > 0);
  const f = (get) => { const v = rs.map(get).filter((x) => x !== undefined); return `${med(v).toFixed(1)} [${v.map((x) => x.toFixed(1)).join(" ")}]`; };
  console.log(s.padEnd(16), "n", rs.length, "| us/op", f((r) => r.r.usPerOp), "| io", f((r) => r.r.threads["io-0"] ?? r.r.threads.MainThread), "| pipe", f((r) => r.r.threads.pipeline ?? 0), "| kops/s", f((r) => r.r.ops / 1000), "| p50 us", f((r) => r.r.p50), "| p99 us", f((r) => r.r.p99));
}' $out

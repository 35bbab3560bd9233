#!/bin/sh
# Prometheus metrics (issue 17): GET /metrics on metrics_listen, parsed by
# python3-prometheus-client's own text parser, with the counters checked
# against the traffic this test sends; tunnelctl metrics says the same; a
# hostile HTTP client (a huge header, a slowloris, many of them) costs only
# itself; metrics_listen follows a reload.
. "$(dirname "$0")/lib.sh"

# Debian's python3-prometheus-client is for Debian's python3, which may
# not be the one first in PATH
PROM_PYTHON=
for p in "$PYTHON3" /usr/bin/python3; do
	if $p -c 'import prometheus_client' 2>/dev/null; then
		PROM_PYTHON=$p
		break
	fi
done
if [ -z "$PROM_PYTHON" ]; then
	echo "1..0 # SKIP python3-prometheus-client is not installed"
	exit 0
fi
# the HTTP client and the checks, in Python: scrape URL, raw requests
cat > "$WORK/scrape.py" <<'PY'
import socket, sys, time, urllib.request, urllib.error
from prometheus_client.parser import text_string_to_metric_families

def get(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()

def samples(text):
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = (fam.type, s.value)
    return out

def value(ss, name, **labels):
    return ss[(name, tuple(sorted(labels.items())))][1]

mode = sys.argv[1]
if mode == "status":            # URL [METHOD]: the HTTP status
    print(get(sys.argv[2], *sys.argv[3:])[0])
elif mode == "save":            # URL FILE: the body, checked first
    st, ct, body = get(sys.argv[2])
    assert st == 200, st
    assert ct.startswith("text/plain; version=0.0.4"), ct
    open(sys.argv[3], "w").write(body)
elif mode == "parse":           # FILE: every family has HELP and TYPE
    text = open(sys.argv[2]).read()
    fams = list(text_string_to_metric_families(text))
    names = set()
    for f in fams:
        assert f.documentation, f.name + " has no HELP"
        assert f.type in ("gauge", "counter", "info"), f.name + " " + f.type
        for s in f.samples:
            if f.type == "counter":
                assert s.name.endswith("_total"), s.name
            names.add(s.name)
    print(len(fams), "families,", len(names), "names")
elif mode == "expect":          # FILE NAME LABEL=V... VALUE
    ss = samples(open(sys.argv[2]).read())
    labels = dict(a.split("=", 1) for a in sys.argv[4:-1])
    want = float(sys.argv[-1])
    try:
        got = value(ss, sys.argv[3], **labels)
    except KeyError:
        sys.exit("no sample %s%s" % (sys.argv[3], labels))
    if got != want:
        sys.exit("%s%s is %s, not %s" % (sys.argv[3], labels, got, want))
elif mode == "has":             # FILE NAME: some sample of that name
    ss = samples(open(sys.argv[2]).read())
    assert any(k[0] == sys.argv[3] for k in ss), "no " + sys.argv[3]
elif mode == "huge-header":     # PORT: 1 MB of header; answered or closed
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])), 10)
    c.settimeout(10)
    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    try:
        for i in range(1024):
            c.sendall(b"X-Junk: " + b"a" * 1014 + b"\r\n")
    except OSError:
        pass                    # cut off: what we want
    data = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    assert b"200 OK" not in data, data[:200]
    print(data.split(b"\r\n")[0].decode() or "closed")
elif mode == "head":            # PORT: HEAD's headers, a length, no body
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])), 10)
    c.settimeout(10)
    c.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    lens = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert len(lens) == 1 and int(lens[0].split(b":")[1]) > 0, head
    assert body == b"", body[:100]
    print(lens[0].decode())
elif mode == "slowloris":       # PORT N SECONDS: N clients, a byte a second
    port, n, secs = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    cs = [socket.create_connection(("127.0.0.1", port), 10) for i in range(n)]
    open(sys.argv[5], "w").write("connected\n")
    line = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000
    t0, i, alive = time.time(), 0, n
    while time.time() - t0 < secs and alive:
        alive = 0
        for c in cs:
            try:
                c.send(line[i:i + 1])
                alive += 1
            except OSError:
                pass
        i += 1
        time.sleep(1)
    print("%d of %d still connected after %.0f s" % (alive, n, time.time() - t0))
PY
SCRAPE="$PROM_PYTHON $WORK/scrape.py"

start_sshd
start_server echo; ECHO=$SERVER_PORT
REFUSE=$(free_port)
L1=$(free_port); L2=$(free_port); MP=$(free_port); MP2=$(free_port)
write_conf "  m1 = {
    host = \"127.0.0.1\";
    local = [ \"$L1:127.0.0.1:$ECHO\", \"$L2:127.0.0.1:$REFUSE\" ];
  };
  m2 = {
    host = \"127.0.0.1\";
    autostart = false;
    local = [ \"$WORK/q\\\"b\\\\s.sock:127.0.0.1:1\" ];
  };"
sed -i "1i metrics_listen = \"127.0.0.1:$MP\";" "$CONF"
cp "$CONF" "$WORK/good.conf"
start_tunneld
URL=http://127.0.0.1:$MP/metrics

check "tunnel comes up" wait_state m1 up 15
# the traffic the counters are checked against: 3 connections of known
# size, one refused by the target
check "1000000 bytes each way" $NETIO roundtrip "$L1" 1000000
check "234567 bytes each way" $NETIO roundtrip "$L1" 234567
check "1 byte each way" $NETIO roundtrip "$L1" 1
check "a refusing target" $NETIO closed "$L2"
conns_closed() { [ "$(json_get m1 "t['forwards'][0]['connections']")" = 0 ]; }
check "the connections are closed" wait_until 10 conns_closed

check "GET /metrics: 200, text/plain version 0.0.4" $SCRAPE save "$URL" "$WORK/m.txt"
diag "$($SCRAPE parse "$WORK/m.txt" 2>&1)"
parses() { $SCRAPE parse "$1" > /dev/null; }
check "the Prometheus parser reads it; HELP, TYPE, counters end in _total" \
	parses "$WORK/m.txt"
F1="tunnel=m1 forward=$L1:127.0.0.1:$ECHO kind=local"
F2="tunnel=m1 forward=$L2:127.0.0.1:$REFUSE kind=local"
check "sent bytes = 1234568" $SCRAPE expect "$WORK/m.txt" tunneld_forward_sent_bytes_total $F1 1234568
check "received bytes = 1234568" $SCRAPE expect "$WORK/m.txt" tunneld_forward_received_bytes_total $F1 1234568
check "connections total = 3" $SCRAPE expect "$WORK/m.txt" tunneld_forward_connections_total $F1 3
check "connections open = 0" $SCRAPE expect "$WORK/m.txt" tunneld_forward_connections $F1 0
check "failures = 0 where none failed" $SCRAPE expect "$WORK/m.txt" tunneld_forward_failures_total $F1 0
check "failures = 1 for the refusing target" $SCRAPE expect "$WORK/m.txt" tunneld_forward_failures_total $F2 1
check "m1 up" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_up tunnel=m1 1
check "m1 in state up" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_state tunnel=m1 state=up 1
check "m1 not in state backoff" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_state tunnel=m1 state=backoff 0
# a label value with a double quote and a backslash, escaped and read back
check "a forward's spec with \" and \\ in its label" $SCRAPE expect "$WORK/m.txt" \
	tunneld_forward_connections tunnel=m2 "forward=$WORK/q\"b\\s.sock:127.0.0.1:1" kind=local 0
check "m2 down" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_state tunnel=m2 state=down 1
check "tunnels by state: 1 up" $SCRAPE expect "$WORK/m.txt" tunneld_tunnels state=up 1
check "tunnels by state: 1 down" $SCRAPE expect "$WORK/m.txt" tunneld_tunnels state=down 1
check "reconnects 0" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_reconnects_total tunnel=m1 0
check "the server" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_server_info tunnel=m1 server=127.0.0.1:$SSHD_PORT 1
since=$(json_get m1 "t['since']")
check "last change = status' since" $SCRAPE expect "$WORK/m.txt" tunneld_tunnel_last_change_timestamp_seconds tunnel=m1 "$since"
check "build info" $SCRAPE has "$WORK/m.txt" tunneld_build_info
check "build info names libssh2" grep -q 'tunneld_build_info{version=.*libssh2="[0-9]' "$WORK/m.txt"
check "control clients" $SCRAPE has "$WORK/m.txt" tunneld_control_clients

# tunnelctl metrics: the same text, but for the values that may change
# between the two reads (the control client it is; a keepalive answered)
tctl metrics > "$WORK/c.txt"
$SCRAPE save "$URL" "$WORK/m2.txt"
stable() {
	sed -e 's/^\(tunneld_control_clients\) .*/\1/' \
	    -e 's/^\(tunneld_tunnel_keepalive_rtt_seconds{[^}]*}\) .*/\1/' \
	    "$1" | sort
}
same_text() {
	stable "$1" > "$WORK/a.sorted"
	stable "$2" > "$WORK/b.sorted"
	diag "$(diff "$WORK/a.sorted" "$WORK/b.sorted" | head -5)"
	cmp -s "$WORK/a.sorted" "$WORK/b.sorted"
}
check "tunnelctl metrics = GET /metrics (modulo ordering)" same_text "$WORK/c.txt" "$WORK/m2.txt"
check "tunnelctl metrics counts itself as a control client" \
	grep -q '^tunneld_control_clients [1-9]' "$WORK/c.txt"

# nothing but /metrics, GET and HEAD only
check "/ is 404" [ "$($SCRAPE status "http://127.0.0.1:$MP/")" = 404 ]
check "/metricsx is 404" [ "$($SCRAPE status "http://127.0.0.1:$MP/metricsx")" = 404 ]
check "HEAD /metrics is 200" [ "$($SCRAPE status "$URL" HEAD)" = 200 ]
r=$($SCRAPE head "$MP" 2>&1)
check "HEAD /metrics: GET's headers with Content-Length, and no body" \
	[ $? -eq 0 ]
diag "HEAD: $r"
check "/metrics%00 is 404 (not /metrics decoded)" \
	[ "$($SCRAPE status "http://127.0.0.1:$MP/metrics%00")" = 404 ]
check "/metrics%2f is 404" \
	[ "$($SCRAPE status "http://127.0.0.1:$MP/metrics%2f")" = 404 ]
check "/metrics?a=b is /metrics" \
	[ "$($SCRAPE status "http://127.0.0.1:$MP/metrics?a=b")" = 200 ]
st=$($SCRAPE status "$URL" POST)
check "POST /metrics is refused ($st: libevent 2.1 says 501)" \
	[ "$st" = 405 -o "$st" = 501 ]

# hostile clients: a huge header; 40 slowloris clients (more than the 16
# connections served at once) that send a byte a second
r=$($SCRAPE huge-header "$MP" 2>&1); rc=$?
diag "a 1 MB header: $r"
check "a 1 MB header is refused, not served" [ $rc -eq 0 ]
$SCRAPE slowloris "$MP" 40 20 "$WORK/slow.ready" > "$WORK/slow.out" 2>&1 &
SLOW=$!
PIDS="$PIDS $SLOW"
check "40 slow clients connected" wait_file "$WORK/slow.ready"
t0=$(now)
check "a scrape while they trickle is answered" $SCRAPE save "$URL" "$WORK/m3.txt"
# were the slow ones in its way, it would wait for them to be cut, 10 s
# after they connected
check "... at once, not after the slow ones' 10 s" between "$(elapsed "$t0")" 0 8
check "... and data still flows" $NETIO roundtrip "$L1" 100000
wait $SLOW
diag "slowloris: $(cat "$WORK/slow.out")"
# metrics.c: METRICS_DEADLINE 10 s from the connection; the clients keep
# sending for 20 s
check "every slow client was cut off within the 20 s it tried" \
	grep -q '^0 of 40 still connected' "$WORK/slow.out"
check "tunneld logged why" grep -q 'metrics: a connection .*closed' "$WORK/tunneld.log"
check "a scrape afterwards" $SCRAPE save "$URL" "$WORK/m4.txt"

# reload: a new address is served, the old one no longer; a bad one is an
# error with file:line, and the running address stays
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$MP2\";/" "$CONF"
check "reload with a new metrics_listen" tctl reload
check "the new address serves" $SCRAPE save "http://127.0.0.1:$MP2/metrics" "$WORK/m5.txt"
check "the old one refuses" refused "$MP"
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1\";/" "$CONF"
out=$(tctl reload 2>&1)
check "an address without a port: reload refused" [ $? -ne 0 ]
check "... saying where and what" says "$out" "$CONF:1:" "metrics_listen" "ADDRESS:PORT"
check "... and the running address still serves" $SCRAPE save "http://127.0.0.1:$MP2/metrics" "$WORK/m6.txt"
out=$($TUNNELD -n -c "$CONF" 2>&1)
check "tunneld -n says so too" says "$out" "$CONF:1:" "metrics_listen"
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:${MP2}junk\";/" "$CONF"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "a port with junk after it (${MP2}junk): tunneld -n refuses it" \
	[ $rc -ne 0 ]
check "... saying where and what" says "$out" "$CONF:1:" "metrics_listen" \
	"127.0.0.1:${MP2}junk" "ADDRESS:PORT"
for w in "0.0.0.0:$MP2" "[::]:$MP2"; do
	sed -i "s/^metrics_listen = .*/metrics_listen = \"$w\";/" "$CONF"
	out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
	check "$w: accepted, with a warning that the network reads it" \
	    sh -c "[ $rc -eq 0 ] && printf '%s\n' \"\$1\" | grep -qF \"$CONF:1: metrics_listen: \\\"$w\\\" is every address of this machine: the metrics are readable from the network\"" _ "$out"
done
diag "$out"
sed -i "/^metrics_listen/d" "$CONF"
check "reload without metrics_listen" tctl reload
check "nothing serves any more" refused "$MP2"
cp "$WORK/good.conf" "$CONF"
check "reload with it again" tctl reload
check "served again" $SCRAPE save "$URL" "$WORK/m7.txt"
check "tunneld is alive" kill -0 "$TUNNELD_PID"
check "m1 stayed up throughout" [ "$(json_get m1 "t['reconnects']")" = 0 ]

done_testing

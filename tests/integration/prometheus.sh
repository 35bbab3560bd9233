#!/bin/sh
# prometheus.sh - contrib/prometheus and contrib/grafana: promtool checks
# the rules and runs their unit tests (tunneld.rules.test.yml); every query
# of the Grafana dashboard is valid PromQL and uses the variables; and every
# metric name the rules and the dashboard use is one `tunnelctl metrics`
# emits, from a tunneld running a profile with every kind of forward, or a
# recording rule of the rules file.  The names check is shown to catch a
# wrong name.
. "$(dirname "$0")/lib.sh"

: "${PROMTOOL:=promtool}"
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
	echo "1..0 # SKIP promtool is not installed (Debian: prometheus)"
	exit 0
fi
RULES=$top_srcdir/contrib/prometheus/tunneld.rules.yml
RTEST=$top_srcdir/contrib/prometheus/tunneld.rules.test.yml
DASH=$top_srcdir/contrib/grafana/tunneld-dashboard.json

check "promtool check rules: the rules file is valid" \
	"$PROMTOOL" check rules "$RULES"
# promtool reads rule_files relative to the test file
check "promtool test rules: every alert fires when it should, and only then" \
	"$PROMTOOL" test rules "$RTEST"

# names: which metric names a rules file or a dashboard uses (recording
# rules' names, with colons, apart), and the check of them
cat > "$WORK/names.py" <<'PY'
import json, re, sys

TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

def used(text):
    return {t for t in TOKEN.findall(text) if "tunneld_" in t}

def rules_text(path):
    """The rules file without its comments."""
    return "\n".join(l for l in open(path) if not l.lstrip().startswith("#"))

def dashboard_exprs(path):
    """Every query of the dashboard: targets' expr, variables' query."""
    out = []
    def walk(o, key=None):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, k)
        elif isinstance(o, list):
            for v in o:
                walk(v, key)
        elif isinstance(o, str) and key in ("expr", "query", "definition"):
            out.append(o)
    walk(json.load(open(path)))
    return out

mode = sys.argv[1]
if mode == "check":     # EMITTED PENDING RULES DASHBOARD
    emitted = set(open(sys.argv[2]).read().split())
    pending = set(open(sys.argv[3]).read().split())
    rules = rules_text(sys.argv[4])
    recorded = set(re.findall(r"^\s*-?\s*record:\s*(\S+)", rules, re.M))
    names = used(rules) | used("\n".join(dashboard_exprs(sys.argv[5])))
    bad = []
    for n in sorted(names):
        if ":" in n:
            if n not in recorded:
                bad.append(n + " (not recorded by the rules file)")
        elif n not in emitted and n not in pending:
            bad.append(n + " (not emitted by tunnelctl metrics)")
    for b in bad:
        print("unknown name:", b)
    print("%d names checked, %d pending" % (len(names), len(names & pending)))
    sys.exit(1 if bad else 0)
elif mode == "exprs":   # DASHBOARD RULES-OUT: the queries as recording rules
    out = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(dashboard_exprs(sys.argv[2])):
        if e.startswith("label_values("):   # Grafana's, not PromQL
            m = re.match(r"label_values\((.*),\s*\w+\)$", e)
            e = m.group(1)
        e = e.replace("$__rate_interval", "5m")
        e = e.replace("$instance", ".*").replace("$tunnel", ".*")
        assert "$" not in e, e
        out.append("      - record: dashboard_%d" % i)
        out.append("        expr: %s" % json.dumps(e))
    open(sys.argv[3], "w").write("\n".join(out) + "\n")
    print(len(out) - 3, "queries")
elif mode == "vars":    # DASHBOARD: datasource and tunnel variables used
    d = json.load(open(sys.argv[2]))
    vs = {v["name"]: v for v in d["templating"]["list"]}
    assert vs["datasource"]["type"] == "datasource", vs.get("datasource")
    assert vs["tunnel"]["type"] == "query", vs.get("tunnel")
    n = 0
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", p["title"]
            assert "$instance" in t["expr"], p["title"] + ": " + t["expr"]
            n += 1
    print(n, "queries on ${datasource}, each filtered by $instance")
PY
NAMES="$PYTHON3 $WORK/names.py"

check "the dashboard: a datasource variable, a tunnel variable, used by every query" \
	$NAMES vars "$DASH"
$NAMES exprs "$DASH" "$WORK/dashboard.rules.yml" >/dev/null
check "the dashboard: every query is valid PromQL (promtool check rules)" \
	"$PROMTOOL" check rules "$WORK/dashboard.rules.yml"

# A tunnel with every kind of forward: local, remote, dynamic,
# remote-dynamic, a UNIX socket, one that fails (its port is taken).  The
# settings of this round's other metrics (metrics-names.md) are set when
# this tunneld knows them; the names they bring are "pending" until then.
start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port); R=$(free_port); D=$(free_port); RD=$(free_port)
TAKEN=127.0.0.1:$ECHO	# the echo server listens there
tunnel() { # extra settings
	write_conf "  all = {
    host = \"127.0.0.1\";
    local = [ \"$L:127.0.0.1:$ECHO\", \"$WORK/l.sock:127.0.0.1:$ECHO\",
              \"$TAKEN:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\", \"$RD\" ];
    dynamic = [ \"$D\" ];
    max_connections = 100;
$1
  };"
}
: > "$WORK/pending"
EXTRA=
for s in "probe_interval = 30;|tunneld_forward_probe_ok tunneld_forward_probe_failures_total tunneld_forward_probe_last_success_timestamp_seconds" \
    "on_state = [ \"/bin/true\" ];|tunneld_tunnel_hook_runs_total tunneld_tunnel_hook_failures_total" \
    "rate_limit = \"10M\";|tunneld_tunnel_rate_limit_bytes"; do
	setting=${s%%|*}
	tunnel "    $setting"
	if $TUNNELD -n -c "$CONF" >/dev/null 2>&1; then
		EXTRA="$EXTRA    $setting
"
	else
		echo "${s#*|}" | tr ' ' '\n' >> "$WORK/pending"
		skip "$setting: not known to this tunneld; its metrics' names" \
		    "(${s#*|}) are taken from metrics-names.md"
	fi
done
tunnel "$EXTRA"
check "the profile is valid" $TUNNELD -n -c "$CONF"
start_tunneld
check "the tunnel comes up, degraded (one local port is taken)" \
	wait_state all degraded 30
tctl metrics > "$WORK/metrics.txt"
sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$WORK/metrics.txt" > "$WORK/emitted"
diag "$(wc -l < "$WORK/emitted") metric families emitted"
check "the new metrics are emitted: tunneld_tunnel_max_connections 100" \
	grep -q '^tunneld_tunnel_max_connections{tunnel="all"} 100$' "$WORK/metrics.txt"
check "... tunneld_forward_state: the taken port's forward failed" \
	grep -q "^tunneld_forward_state{tunnel=\"all\",forward=\"$TAKEN:127.0.0.1:$ECHO\",kind=\"local\",state=\"failed\"} 1\$" "$WORK/metrics.txt"
check "... the others up" \
	grep -q "^tunneld_forward_state{tunnel=\"all\",forward=\"$R:127.0.0.1:$ECHO\",kind=\"remote\",state=\"up\"} 1\$" "$WORK/metrics.txt"

check "every metric name of the rules and the dashboard is emitted or recorded" \
	$NAMES check "$WORK/emitted" "$WORK/pending" "$RULES" "$DASH"
# the check catches a wrong name, in the rules and in the dashboard:
# caught NAME RULES DASHBOARD: it fails, and says NAME
caught() {
	! $NAMES check "$WORK/emitted" "$WORK/pending" "$2" "$3" \
	    > "$WORK/wrong.out" 2>&1 &&
	    grep -q "^unknown name: $1 " "$WORK/wrong.out"
}
sed 's/tunneld_tunnel_reconnects_total/tunneld_tunnel_reconnect_total/' \
	"$RULES" > "$WORK/wrong.rules.yml"
check "a wrong name in the rules is caught, and named" \
	caught tunneld_tunnel_reconnect_total "$WORK/wrong.rules.yml" "$DASH"
sed 's/tunneld_tunnel_keepalive_rtt_seconds/tunneld_tunnel_keepalive_rtt_ms/' \
	"$DASH" > "$WORK/wrong.json"
check "a wrong name in the dashboard is caught, and named" \
	caught tunneld_tunnel_keepalive_rtt_ms "$RULES" "$WORK/wrong.json"
sed 's/tunnel:tunneld_connections_used:ratio >= 0.9/tunnel:tunneld_connections_use:ratio >= 0.9/' \
	"$RULES" > "$WORK/wrong.rules.yml"
check "a recording rule used but not recorded is caught" \
	caught tunnel:tunneld_connections_use:ratio "$WORK/wrong.rules.yml" "$DASH"
done_testing

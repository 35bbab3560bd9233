#!/bin/sh
# proxy.sh - proxy = "http://..." / "socks5://...": the session's TCP
# connection goes through an HTTP CONNECT or SOCKS5 proxy of the test's
# own (proxy-server.py), data flows through it, and every way a proxy can
# fail - it refuses (403, SOCKS5 reply 5), wants authentication, answers
# garbage, is down, or never answers - is an error that names the proxy and
# says what it said, within connect_timeout.  Bad URLs are configuration
# errors with FILE:LINE.
. "$(dirname "$0")/lib.sh"
PROXY_SERVER="$PYTHON3 $top_srcdir/tests/integration/proxy-server.py"

# start_proxy MODE [NAME]: its port in PROXY_PORT; requests in
# $WORK/NAME.requests (NAME: MODE)
start_proxy() {
	n=${2:-$1}
	$PROXY_SERVER "$1" "$WORK/$n.port" "$WORK/$n.requests" \
	    2>>"$WORK/proxy.log" &
	PIDS="$PIDS $!"
	wait_file "$WORK/$n.port" || bail "proxy-server.py $1 did not start"
	PROXY_PORT=$(cat "$WORK/$n.port")
}

# Bad URLs first: FILE:LINE and what is wrong.
cat > "$WORK/bad.conf" <<'CONF'
defaults = { user = "tunnel"; };
tunnels = {
  a = { host = "x";
    proxy = "ftp://127.0.0.1:21"; };
  b = { host = "x";
    proxy = "http://proxy.example"; };
  c = { host = "x";
    proxy = "socks5://user:secret@127.0.0.1:1080"; };
  d = { host = "x";
    proxy = "http://127.0.0.1:99999"; };
  e = { host = "x";
    proxy = "http://::1:3128"; };
  f = { host = "x"; proxy = "socks5://[::1]:1080"; };
};
CONF
out=$($TUNNELD -n -c "$WORK/bad.conf" 2>&1); rc=$?
check "bad proxy URLs: -n exits 1" [ $rc -eq 1 ]
f="$WORK/bad.conf"
for want in "$f:4: proxy: \"ftp://127.0.0.1:21\": unsupported scheme" \
    "$f:6: proxy: \"http://proxy.example\": the port is missing" \
    "$f:8: proxy: \"socks5://user:secret@127.0.0.1:1080\": credentials in the URL are not supported" \
    "$f:10: proxy: \"http://127.0.0.1:99999\": the port is not a number from 1 to 65535" \
    "$f:12: proxy: \"http://::1:3128\": an IPv6 address goes in brackets"; do
	check "reports: $want" says "$out" "$want"
done
check "a bracketed IPv6 proxy is fine: 5 errors, no more" \
	[ "$(printf '%s\n' "$out" | grep -c "^$f:")" -eq 5 ]

start_sshd
start_server echo; ECHO=$SERVER_PORT
start_proxy http;          HTTP=$PROXY_PORT
start_proxy socks5;        SOCKS=$PROXY_PORT
start_proxy http-403;      H403=$PROXY_PORT
start_proxy http-2000;     H2000=$PROXY_PORT
start_proxy socks5-refuse; SREF=$PROXY_PORT
start_proxy socks5-auth;   SAUTH=$PROXY_PORT
start_proxy garbage;       GARB=$PROXY_PORT
start_proxy silent;        SILENT=$PROXY_PORT
start_proxy http jumpproxy; JPROXY=$PROXY_PORT
DOWN=$(free_port)	# reserved, and nothing listens on it
# through SOCKS5 by name: the proxy resolves it (a domain-name request);
# its key pinned, since start_sshd writes known_hosts for 127.0.0.1 alone
FP=$($SSH_KEYGEN -lf "$WORK/host_ed25519.pub" | cut -d' ' -f2)
L1=$(free_port); L2=$(free_port)
write_conf "
  viahttp = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$HTTP\";
    local = [ \"$L1:127.0.0.1:$ECHO\" ]; };
  viasocks = { host = \"localhost\"; proxy = \"socks5://127.0.0.1:$SOCKS\";
    host_key = \"$FP\";
    local = [ \"$L2:127.0.0.1:$ECHO\" ]; };
  h403 = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$H403\"; };
  h2000 = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$H2000\"; };
  sref = { host = \"127.0.0.1\"; proxy = \"socks5://127.0.0.1:$SREF\"; };
  sauth = { host = \"127.0.0.1\"; proxy = \"socks5://127.0.0.1:$SAUTH\"; };
  garb = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$GARB\"; };
  down = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$DOWN\"; };
  silent = { host = \"127.0.0.1\"; proxy = \"http://127.0.0.1:$SILENT\";
    connect_timeout = 2; };
  viajump = { host = \"localhost\"; host_key = \"$FP\";
    jump = \"127.0.0.1:$SSHD_PORT\"; proxy = \"http://127.0.0.1:$JPROXY\"; };"
start_tunneld

check "through an HTTP CONNECT proxy: up" wait_state viahttp up 15
check "... the proxy was asked for the server" \
	grep -qx "CONNECT 127.0.0.1:$SSHD_PORT" "$WORK/http.requests"
check "... data both ways through the tunnel, compared by hash" \
	$NETIO roundtrip "$L1" 2000000
check "through a SOCKS5 proxy: up" wait_state viasocks up 15
check "... asked for the server by name (the proxy resolves it)" \
	grep -qx "SOCKS5 localhost:$SSHD_PORT" "$WORK/socks5.requests"
check "... data both ways through the tunnel, compared by hash" \
	$NETIO roundtrip "$L2" 2000000

check "with jump: up, the proxy carrying the first hop" wait_state viajump up 15
check "... the proxy asked for the jump host alone, not the target" \
	sh -c "[ \"\$(cat '$WORK/jumpproxy.requests')\" = 'CONNECT 127.0.0.1:$SSHD_PORT' ]"

# error_says NAME STRING...: the tunnel is in backoff and its last error
# says every STRING
error_says() {
	n=$1; shift
	[ "$(json_get "$n" "t['state']")" = backoff ] &&
	    says "$(json_get "$n" "t['last_error']")" "$@"
}
why() { diag "$1: $(json_get "$1" "t['last_error']")"; }

check "HTTP 403: the proxy and its status line" wait_until 15 error_says h403 \
	"HTTP proxy 127.0.0.1:$H403 refused CONNECT 127.0.0.1:$SSHD_PORT" \
	'"HTTP/1.1 403 Forbidden"'
why h403
check "HTTP/1.1 2000: four digits are no status, not a success" \
	wait_until 15 error_says h2000 \
	"HTTP proxy 127.0.0.1:$H2000 answered an HTTP status line that makes no sense" \
	'"HTTP/1.1 2000 x"'
why h2000
check "SOCKS5 reply 5: its code and meaning" wait_until 15 error_says sref \
	"SOCKS5 proxy 127.0.0.1:$SREF refused the connection to 127.0.0.1 port $SSHD_PORT" \
	"SOCKS5 reply 5 (connection refused)"
why sref
check "a SOCKS5 proxy that wants authentication says so" \
	wait_until 15 error_says sauth \
	"SOCKS5 proxy 127.0.0.1:$SAUTH accepts none of the authentication methods"
check "a proxy that answers garbage: quoted" wait_until 15 error_says garb \
	"HTTP proxy 127.0.0.1:$GARB answered something that is not HTTP" \
	'SSH-2.0-not-a-proxy\x0d\x0a'
why garb
check "a proxy that is down: named, with the reason" \
	wait_until 15 error_says down \
	"HTTP proxy 127.0.0.1:$DOWN: Connection refused"
why down
check "a proxy that never answers: timed out within connect_timeout" \
	wait_until 15 error_says silent \
	"timed out after 2s while connecting with HTTP proxy 127.0.0.1:$SILENT"
why silent
check "... the working tunnels are still up" \
	[ "$(json_get viahttp "t['state']")" = up ] &&
	[ "$(json_get viasocks "t['state']")" = up ]

# A host longer than DNS allows, through both proxies: a reload that
# brings it is refused with FILE:LINE, and the daemon goes on as it was
cp "$CONF" "$WORK/before.conf"
LONG=$(printf '%060d.%060d.%060d.%060d.%055d' 1 2 3 4 5)	# 299 characters
sed -i "/^  h403 = /i\\
  longsocks = { host = \"$LONG\"; proxy = \"socks5://127.0.0.1:$SOCKS\"; };\\
  longhttp = { host = \"$LONG\"; proxy = \"http://127.0.0.1:$HTTP\"; };" "$CONF"
out=$(tctl reload 2>&1); rc=$?
check "a 299-character host through SOCKS5 and HTTP proxies: reload refused" \
	[ $rc -ne 0 ]
check "... with FILE:LINE for each" says "$out" \
	"$CONF:$(grep -n '^  longsocks' "$CONF" | cut -d: -f1): host: host name" \
	"$CONF:$(grep -n '^  longhttp' "$CONF" | cut -d: -f1): host: host name" \
	"is 299 characters long: at most 253"
diag "$(printf '%s\n' "$out" | cut -c1-200)"
check "... the daemon is alive and unchanged" kill -0 "$TUNNELD_PID"
check "... the SOCKS5 proxy was never asked for it" \
	sh -c "! grep -q 00000001 '$WORK/socks5.requests' '$WORK/http.requests'"
cp "$WORK/before.conf" "$CONF"

# The server restarts: the tunnels come back through their proxies.
events_start
stop_sshd
start_sshd
check "sshd restarted: back up through the HTTP proxy" wait_event viahttp '*' up 30
check "... and through the SOCKS5 proxy" wait_state viasocks up 30
check "... data flows again" $NETIO roundtrip "$L1" 100000

done_testing

#!/bin/sh
# algorithms.sh - ciphers, macs, kex_algorithms and host_key_algorithms
# reach the wire: a tunnel that names them negotiates them (status, JSON
# and text), one whose host key algorithm known_hosts does not list is
# refused, the default is the first of --print-config's list that the
# server takes; an unknown name is refused with FILE:LINE by -n and by a
# reload, which leaves the running tunnels alone.
. "$(dirname "$0")/lib.sh"

start_sshd
ts="
  a = { host = \"127.0.0.1\";
    ciphers = \"aes256-ctr\";
    macs = \"hmac-sha2-512\";
    kex_algorithms = \"curve25519-sha256@libssh.org\";
    host_key_algorithms = \"ssh-ed25519\";
  };
  b = { host = \"127.0.0.1\"; };
  c = { host = \"127.0.0.1\"; host_key_algorithms = \"ecdsa-sha2-nistp256\"; };"
write_conf "$ts"
start_tunneld
check "a up" wait_state a up
check "b up" wait_state b up

got=$(json_get a "'%s %s %s %s' % tuple(t['algorithms'][k] for k in ('cipher', 'mac', 'kex', 'host_key'))")
check "a negotiated what it names (status: $got)" \
    [ "$got" = "aes256-ctr hmac-sha2-512 curve25519-sha256@libssh.org ssh-ed25519" ]
out=$(tctl status a)
check "tunnelctl status shows them" sh -c 'printf "%s\n" "$1" | grep -qF "algorithms:  aes256-ctr, MAC hmac-sha2-512, kex curve25519-sha256@libssh.org, host key ssh-ed25519"' _ "$out"

# b: the defaults, filled in by the configuration
first=$($TUNNELD --print-config -c "$CONF" | sed -n '/^  b = {/,/};/s/^ *ciphers = "\([^,"]*\).*/\1/p')
got=$(json_get b "t['algorithms']['cipher']")
check "b negotiated the first default cipher ($first; status: $got)" \
    sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$first" "$got"
case $got in
chacha20-poly1305@openssh.com|*-gcm@openssh.com)
	check "an AEAD cipher's MAC is <implicit>" \
	    [ "$(json_get b "t['algorithms']['mac']")" = "<implicit>" ] ;;
*)
	check "a MAC is negotiated with $got" \
	    sh -c '[ -n "$1" ] && [ "$1" != "<implicit>" ] && [ "$1" != None ]' _ "$(json_get b "t['algorithms']['mac']")" ;;
esac

# c: known_hosts has only the ed25519 key; offering only ECDSA cannot verify
check "c, offering only a host key known_hosts lacks, fails" wait_state c failed
err=$(json_get c "t['last_error']")
check "c says why (host key: $err)" sh -c 'printf "%s" "$1" | grep -qi "host key"' _ "$err"
check "c has no algorithms while down" [ "$(json_get c "t['algorithms']")" = None ]

since=$(json_get a "t['since']")
write_conf "$ts
  d = { host = \"127.0.0.1\";
    ciphers = \"aes128-ctr,nonesuch-cbc\";
    macs = \"hmac-sha2-256,,hmac-sha1\";
  };"
out=$(tctl reload 2>&1); rc=$?
check "reload with an unknown cipher: exit 1" [ $rc -eq 1 ]
line=$(grep -n 'nonesuch-cbc' "$CONF" | cut -d: -f1)
check "... FILE:LINE names it and lists what libssh2 offers" \
    sh -c 'printf "%s\n" "$1" | grep -F "$2:$3: ciphers: unknown cipher \"nonesuch-cbc\": libssh2 " | grep -q "offers .*aes128-ctr"' _ "$out" "$CONF" "$line"
line=$(grep -n ',,' "$CONF" | cut -d: -f1)
check "... and an empty name, FILE:LINE" \
    sh -c 'printf "%s\n" "$1" | grep -qF "$2:$3: macs: an empty name"' _ "$out" "$CONF" "$line"
check "a is still up, untouched" \
    sh -c '[ "$1" = up ] && [ "$2" = "$3" ]' _ "$(json_get a "t['state']")" "$(json_get a "t['since']")" "$since"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "tunneld -n refuses it too" \
    sh -c '[ $1 -eq 1 ] && printf "%s\n" "$2" | grep -qF "ciphers: unknown cipher \"nonesuch-cbc\""' _ "$rc" "$out"
printf 'tunnels = { x = { host = "h"; kex_algorithms = "diffie-hellman-group1-sha1,kex-strict-c-v00@openssh.com"; }; };\n' > "$WORK/pseudo.conf"
out=$($TUNNELD -n -c "$WORK/pseudo.conf" 2>&1)
check "a name libssh2 adds itself is not an algorithm to write" \
    sh -c 'printf "%s\n" "$1" | grep -qF "pseudo.conf:1: kex_algorithms: unknown key exchange \"kex-strict-c-v00@openssh.com\""' _ "$out"
done_testing

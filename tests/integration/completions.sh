#!/bin/sh
# The shell completions of tunnelctl: bash, zsh and fish parse, and (bash
# and fish, run for real) complete the commands, import's program and the
# tunnel names the daemon has.  A shell that is not installed is skipped.
. "$(dirname "$0")/lib.sh"

BASH_C=$top_srcdir/ctl/bash-completion/tunnelctl
ZSH_C=$top_srcdir/ctl/zsh/_tunnelctl
FISH_C=$top_srcdir/ctl/fish/tunnelctl.fish
SSHD_PORT=$(free_port)	# nothing listens: the tunnels stay down
write_conf "  alpha = { host = \"127.0.0.1\"; autostart = false; };
  beta = { host = \"127.0.0.1\"; autostart = false; };"
start_tunneld
PATH=$top_builddir/ctl:$PATH
export PATH CTL

# words: what each completion offers, one per line, sorted, on one line
words() { tr '\t' ' ' | cut -d' ' -f1 | sort | tr '\n' ' ' | sed 's/ $//'; }

if command -v bash >/dev/null 2>&1; then
	check "bash: parses" bash -n "$BASH_C"
	bcomp() {
		bash -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		    _tunnelctl; printf "%s\n" "${COMPREPLY[@]}"' "$BASH_C" "$@" |
		    words
	}
	check "bash: commands (import, authorized-key)" \
	    [ "$(bcomp tunnelctl i)" = import ]
	check "bash: tunnel names for up" \
	    [ "$(bcomp tunnelctl -s "$CTL" up "")" = "alpha beta" ]
	check "bash: import's program" \
	    [ "$(bcomp tunnelctl import -- "")" = "autossh ssh" ]
else
	skip "bash: not installed"
fi

if command -v zsh >/dev/null 2>&1; then
	check "zsh: parses" zsh -n "$ZSH_C"
	check "zsh: compinit finds it (#compdef tunnelctl)" zsh -fc '
	    fpath=("${0%/*}" $fpath); autoload -Uz compinit
	    compinit -u -d "$1/zcompdump"; [[ $_comps[tunnelctl] = _tunnelctl ]]' \
	    "$ZSH_C" "$WORK"
	# a real completion, on a pty; bounded, as a shell that waits for
	# input would never end
	zcomp() {
		timeout 60 zsh -f "$top_srcdir/tests/helpers/zsh-complete.zsh" \
		    "$top_srcdir/ctl/zsh" "$@" | words
	}
	check "zsh: commands" [ "$(zcomp tunnelctl st)" = status ]
	check "zsh: tunnel names for up, from the -s socket" \
	    [ "$(zcomp tunnelctl -s "$CTL" up "")" = "alpha beta" ]
	check "zsh: import's program" \
	    [ "$(zcomp tunnelctl import "")" = "autossh ssh" ]
else
	skip "zsh: not installed"
fi

if command -v fish >/dev/null 2>&1; then
	check "fish: parses" fish -n "$FISH_C"
	fcomp() { fish -c "source '$FISH_C'; complete -C \"$1\"" | words; }
	check "fish: commands" [ "$(fcomp 'tunnelctl st')" = status ]
	check "fish: authorized-key" [ "$(fcomp 'tunnelctl a')" = authorized-key ]
	check "fish: import" [ "$(fcomp 'tunnelctl im')" = import ]
	check "fish: tunnel names for up, from the -s socket" \
	    [ "$(fcomp "tunnelctl -s $CTL up ")" = "alpha beta" ]
	check "fish: import's program" \
	    [ "$(fcomp 'tunnelctl import ')" = "autossh ssh" ]
else
	skip "fish: not installed"
fi
done_testing

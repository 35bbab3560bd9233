#!/bin/zsh -f
# zsh-complete.zsh DIR WORDS...: the matches zsh's completion offers after
# the line WORDS, one per line, with the completion functions of DIR: an
# interactive zsh on a pty (zpty) completes the line, and its compadd
# prints what it would add, between two NUL lines.
if [[ ${1-} == --setup ]]; then		# sourced inside the pty
	PROMPT=
	autoload -Uz compinit; compinit -u -D
	bindkey '^I' complete-word
	null-line() { echo -E - $'\0' }
	compprefuncs=( null-line ); comppostfuncs=( null-line exit )
	zstyle ':completion:*' list-grouped false
	zstyle ':completion:*' insert-tab false
	zstyle ':completion:*' completer _complete
	compadd() {
		if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
			builtin compadd "$@"; return $?
		fi
		typeset -a __hits
		builtin compadd -A __hits "$@"
		local h
		for h in $__hits; do echo -E - "<$h>"; done
	}
	return 0
fi
zmodload zsh/zpty || exit 2
dir=$1; shift
zpty z zsh -f -i
zpty -w z "fpath=(${(q)dir} \$fpath); source ${(q)0:A} --setup"
zpty -n -w z "$*"$'\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
	if [[ $line == *$'\0\r' ]]; then
		(( tog++ )) && return 0 || continue
	fi
	(( tog )) && [[ $line == *'<'*'>'* ]] && print -r -- ${${line#*<}%>*}
done
return 0

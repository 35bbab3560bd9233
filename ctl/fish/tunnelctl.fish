# fish completion for tunnelctl(1): commands, options, tunnel names (read
# from `tunnelctl status`, with the -s SOCKET already typed).

function __tunnelctl_names
    set -l tokens (commandline -opc)
    set -l sock
    set -l i (contains -i -- -s $tokens; or contains -i -- --socket $tokens)
    if test -n "$i"; and test (count $tokens) -gt $i
        set sock -s $tokens[(math $i + 1)]
    end
    tunnelctl $sock status 2>/dev/null | awk 'NR > 1 { print $1 }'
end

set -l commands status up down restart reload events metrics authorized-key import
set -l none "not __fish_seen_subcommand_from $commands"

complete -c tunnelctl -f
complete -c tunnelctl -s s -l socket -r -F -d 'the control socket'
complete -c tunnelctl -s j -l json -d 'JSON output'
complete -c tunnelctl -l no-wait -d 'up: return without waiting'
complete -c tunnelctl -l timeout -x -d 'up: seconds to wait'
complete -c tunnelctl -s h -l help -d 'print the usage'
complete -c tunnelctl -s V -l version -d 'print the version'

complete -c tunnelctl -n $none -a status -d 'all tunnels, or the named ones in detail'
complete -c tunnelctl -n $none -a up -d 'bring tunnels up and wait'
complete -c tunnelctl -n $none -a down -d 'bring tunnels down and keep them down'
complete -c tunnelctl -n $none -a restart -d 'down, then up'
complete -c tunnelctl -n $none -a reload -d 're-read the configuration'
complete -c tunnelctl -n $none -a events -d 'print state changes'
complete -c tunnelctl -n $none -a metrics -d 'the metrics for Prometheus'
complete -c tunnelctl -n $none -a authorized-key -d 'the authorized_keys line for a tunnel'
complete -c tunnelctl -n $none -a import -d 'a profile for an ssh command line'

complete -c tunnelctl -n '__fish_seen_subcommand_from status up down restart authorized-key' \
    -a '(__tunnelctl_names)' -d tunnel
set -l noprog '__fish_seen_subcommand_from import; and not __fish_seen_subcommand_from ssh autossh'
complete -c tunnelctl -n $noprog -a 'ssh autossh' -d program
complete -c tunnelctl -n $noprog -l name -x -d 'the name of the profile'

_jwrap() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="jwrap"
                ;;
            jwrap,info)
                cmd="jwrap__subcmd__info"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        jwrap)
            opts="-v -q -h -V --root --memory-limit --cpus --heap-percent --java-flags --runtime-env --memory-watch --memory-report --single-child --rewrite --kill-after --drain-timeout --term-delay --success-exit --pdeath-signal --exec --verbose --quiet --help --version info"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --heap-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --java-flags)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --runtime-env)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-watch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-report)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rewrite)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --kill-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --drain-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --term-delay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --success-exit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pdeath-signal)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        jwrap__subcmd__info)
            opts="-v -q -h --json --root --memory-limit --cpus --heap-percent --java-flags --runtime-env --memory-watch --memory-report --single-child --rewrite --kill-after --drain-timeout --term-delay --success-exit --pdeath-signal --exec --verbose --quiet --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --root)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cpus)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --heap-percent)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --java-flags)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --runtime-env)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-watch)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --memory-report)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rewrite)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --kill-after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --drain-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --term-delay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --success-exit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pdeath-signal)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _jwrap -o nosort -o bashdefault -o default jwrap
else
    complete -F _jwrap -o bashdefault -o default jwrap
fi

# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_jwrap_global_optspecs
    string join \n root= memory-limit= cpus= heap-percent= java-flags= runtime-env= memory-watch= memory-report= single-child rewrite= kill-after= drain-timeout= term-delay= success-exit= pdeath-signal= exec v/verbose q/quiet h/help V/version
end

function __fish_jwrap_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_jwrap_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_jwrap_using_subcommand
    set -l cmd (__fish_jwrap_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c jwrap -n "__fish_jwrap_needs_command" -l root -d 'Read /proc and /sys below DIR instead of / (tests, inspecting a copied machine)' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l memory-limit -d 'Use SIZE (536870912, 512m, 512Mi, 1g, 1.5Gi) instead of the detected memory limit' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l cpus -d 'Use N CPUs (1.5 and 500m allowed) instead of the detected CPU limit' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l heap-percent -d 'Heap = P % of the memory limit, instead of the default budget' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l java-flags -d 'How JVM flags are passed: auto (arguments when COMMAND is java, else JAVA_TOOL_OPTIONS), args, env, off' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l runtime-env -d 'For other runtimes (Go, Node.js, .NET, Python), export the variables they read, where unset: on, off' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l memory-watch -d 'Watch the container\'s memory while COMMAND runs, to say what filled it if the kernel kills it: on, off' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l memory-report -d 'When the kernel kills COMMAND for memory, write the watch\'s samples before the kill to FILE (JSON lines)' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l rewrite -d 'Deliver TO when FROM arrives (names or numbers; TO 0 drops FROM). Repeatable' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l kill-after -d 'After forwarding SIGTERM, SIGINT or SIGQUIT, SIGKILL the child\'s group if it still lives after SECONDS' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l drain-timeout -d 'When the child has exited, SIGTERM what is left of its group and of adopted orphans, wait up to SECONDS, then SIGKILL them; 0 skips draining' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l term-delay -d 'Hold the first SIGTERM this long before forwarding it (lets a load balancer stop sending traffic)' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l success-exit -d 'Report exit code CODE as 0 (e.g. 143, a JVM that shut down cleanly on SIGTERM). Repeatable' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l pdeath-signal -d 'When jwrap\'s parent dies, act as if SIG had arrived' -r
complete -c jwrap -n "__fish_jwrap_needs_command" -l single-child -d 'Forward signals to the child only, not to its process group'
complete -c jwrap -n "__fish_jwrap_needs_command" -l exec -d 'No init: compute the flags, then replace jwrap with COMMAND'
complete -c jwrap -n "__fish_jwrap_needs_command" -s v -l verbose -d 'Log every decision to stderr'
complete -c jwrap -n "__fish_jwrap_needs_command" -s q -l quiet -d 'No warnings (the explanation of an out-of-memory kill is still shown)'
complete -c jwrap -n "__fish_jwrap_needs_command" -s h -l help -d 'Print help'
complete -c jwrap -n "__fish_jwrap_needs_command" -s V -l version -d 'Print version'
complete -c jwrap -n "__fish_jwrap_needs_command" -a "info" -d 'Print what was detected and what would be done; run nothing'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l root -d 'Read /proc and /sys below DIR instead of / (tests, inspecting a copied machine)' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l memory-limit -d 'Use SIZE (536870912, 512m, 512Mi, 1g, 1.5Gi) instead of the detected memory limit' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l cpus -d 'Use N CPUs (1.5 and 500m allowed) instead of the detected CPU limit' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l heap-percent -d 'Heap = P % of the memory limit, instead of the default budget' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l java-flags -d 'How JVM flags are passed: auto (arguments when COMMAND is java, else JAVA_TOOL_OPTIONS), args, env, off' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l runtime-env -d 'For other runtimes (Go, Node.js, .NET, Python), export the variables they read, where unset: on, off' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l memory-watch -d 'Watch the container\'s memory while COMMAND runs, to say what filled it if the kernel kills it: on, off' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l memory-report -d 'When the kernel kills COMMAND for memory, write the watch\'s samples before the kill to FILE (JSON lines)' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l rewrite -d 'Deliver TO when FROM arrives (names or numbers; TO 0 drops FROM). Repeatable' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l kill-after -d 'After forwarding SIGTERM, SIGINT or SIGQUIT, SIGKILL the child\'s group if it still lives after SECONDS' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l drain-timeout -d 'When the child has exited, SIGTERM what is left of its group and of adopted orphans, wait up to SECONDS, then SIGKILL them; 0 skips draining' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l term-delay -d 'Hold the first SIGTERM this long before forwarding it (lets a load balancer stop sending traffic)' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l success-exit -d 'Report exit code CODE as 0 (e.g. 143, a JVM that shut down cleanly on SIGTERM). Repeatable' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l pdeath-signal -d 'When jwrap\'s parent dies, act as if SIG had arrived' -r
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l json -d 'Print JSON (the keys are fixed by the contract) instead of a table'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l single-child -d 'Forward signals to the child only, not to its process group'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -l exec -d 'No init: compute the flags, then replace jwrap with COMMAND'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -s v -l verbose -d 'Log every decision to stderr'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -s q -l quiet -d 'No warnings (the explanation of an out-of-memory kill is still shown)'
complete -c jwrap -n "__fish_jwrap_using_subcommand info" -s h -l help -d 'Print help'

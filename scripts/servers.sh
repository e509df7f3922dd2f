#!/usr/bin/env bash
# servers.sh - real servers under an allocating load in a real cgroup v1: the measurements behind
# the heap budget (src/java/budget.rs) and the BENCHMARKS.md section "Real servers".
#
# Usage:
#   scripts/servers.sh run SERVER LIMIT_MIB HEAP GC [REQUESTS]
#       one run; prints one tab-separated result line (see `header`) on stdout.
#       SERVER  tomcat (Debian's Tomcat 10, catalina.sh run; options in CATALINA_OPTS),
#               jetty (Debian's Jetty 9, java -jar start.jar; options on the command line),
#               service (tests/java-programs/AllocService.java as java -jar; options on the
#               command line)
#       HEAP    jwrap (jwrap decides), default (the JVM's own, no jwrap), or a size in MiB
#               (-Xmx, no jwrap)
#       GC      serial | parallel | g1 | none (the JVM's own choice)
#   scripts/servers.sh header
#
# Every request to the page allocates 1 MiB and keeps the last 32 (tests/servers/alloc.jsp,
# AllocService). The load is `ab -n REQUESTS -c 50` (REQUESTS default 20000). Native Memory
# Tracking (summary) is on unless NMT=off (it costs the JVM a few MiB of its own); with NMT=1
# `jcmd PID VM.native_memory summary` is sampled every 2 s during the load and the peak
# committed MiB of each region is reported (jcmd runs outside the cgroup; its attach costs the
# JVM an attach-listener thread).
# After the load the server gets SIGTERM (through jwrap when jwrap runs it) and 30 s to stop.
#
# Needs root, a cgroup v1 memory hierarchy, a JDK, ab, and the Debian packages tomcat10 and
# jetty9 (scripts/setup.sh installs them). Environment: JWRAP (default target/debug/jwrap),
# CPUS (cpuset, default 0-1), NMT (1 to sample, off for none), PORT (default: a free one).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
MIB=1048576
say() { echo "servers: $*" >&2; }
die() { say "$*"; exit 1; }

if [[ ${1-} == header ]]; then
  printf 'server\tlimit\theap\tgc\trc\toom_kills\tstopped\treq_s\tfailed\tpeak_mib\txmx_mib\tcollector\tnmt\n'
  exit 0
fi
[[ ${1-} == run && $# -ge 5 ]] || die "usage: $0 run SERVER LIMIT_MIB HEAP GC [REQUESTS] | $0 header"
server=$2 limit=$3 heap=$4 gc=$5 requests=${6:-20000}
JWRAP=${JWRAP:-$repo/target/debug/jwrap}
CPUS=${CPUS:-0-1}
# A port nothing listens on yet.
if [[ -z ${PORT-} ]]; then
  for _ in $(seq 50); do
    PORT=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
  done
fi
[[ $(id -u) == 0 ]] || die "needs root"
for tool in ab java javac jcmd; do command -v $tool >/dev/null || die "needs $tool"; done

work=$(mktemp -d /tmp/jwrap-servers.XXXXXX)
mem_mount=$(awk '$(NF-2)=="cgroup" && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
cpuset_mount=$(awk '$(NF-2)=="cgroup" && $NF ~ /(^|,)cpuset(,|$)/ {print $5; exit}' /proc/self/mountinfo)
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
own_cpuset=$(awk -F: '$2 ~ /(^|,)cpuset(,|$)/ {print $3; exit}' /proc/self/cgroup)
cg=$mem_mount${own%/}/jwrap-servers.$$
cgc=$cpuset_mount${own_cpuset%/}/jwrap-servers.$$
cleanup() {
  for dir in "$cg" "$cgc"; do
    [[ -d $dir ]] || continue
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$dir/cgroup.procs"
    for _ in $(seq 50); do rmdir "$dir" 2>/dev/null && break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$cg" "$cgc"
echo $((limit * MIB)) >"$cg/memory.limit_in_bytes"
echo $((limit * MIB)) >"$cg/memory.memsw.limit_in_bytes" 2>/dev/null
cat "$(dirname "$cgc")/cpuset.mems" >"$cgc/cpuset.mems"
echo "$CPUS" >"$cgc/cpuset.cpus"

# The JVM options of the run, and where the launcher takes them from.
opts=()
[[ ${NMT-} == off ]] || opts+=(-XX:NativeMemoryTracking=summary)
case $gc in
  serial) opts+=(-XX:+UseSerialGC) ;; parallel) opts+=(-XX:+UseParallelGC) ;;
  g1) opts+=(-XX:+UseG1GC) ;; none) ;; *) die "GC: serial, parallel, g1 or none" ;;
esac
[[ $heap =~ ^[0-9]+$ ]] && opts+=("-Xmx${heap}m")

# The Java programs (the service), compiled once per source version.
classes_for_service() {
  local key dir
  key=$(cat "$repo"/tests/java-programs/AllocService.java | sha256sum | cut -c1-16)
  dir=${CARGO_TARGET_DIR:-$repo/target}/tmp/servers-$key
  if [[ ! -f $dir/alloc.jar ]]; then
    mkdir -p "$dir/classes"
    javac -d "$dir/classes" "$repo/tests/java-programs/AllocService.java" || die "javac failed"
    jar --create --file "$dir/alloc.jar" --main-class AllocService -C "$dir/classes" . || die "jar failed"
  fi
  echo "$dir/alloc.jar"
}

path=/alloc.jsp
env_vars=()
case $server in
  tomcat)
    base=$work/tomcat
    mkdir -p "$base"/{logs,work,temp,webapps/ROOT}
    # A copy of the package's pristine configuration (never the live /etc/tomcat10).
    mkdir "$base/conf"
    cp -L /usr/share/tomcat10/etc/* "$base/conf/"
    sed -i -e "s/port=\"8080\"/port=\"$PORT\" address=\"127.0.0.1\"/" -e 's/port="8005"/port="-1"/' "$base/conf/server.xml"
    cp "$repo/tests/servers/alloc.jsp" "$base/webapps/ROOT/"
    command=(/usr/share/tomcat10/bin/catalina.sh run)
    env_vars=(CATALINA_HOME=/usr/share/tomcat10 CATALINA_BASE="$base" "CATALINA_OPTS=${opts[*]}")
    ;;
  jetty)
    base=$work/jetty
    mkdir -p "$base/webapps/ROOT"
    printf -- '--module=http,deploy,jsp\njetty.http.port=%s\njetty.http.host=127.0.0.1\n' "$PORT" >"$base/start.ini"
    cp "$repo/tests/servers/alloc.jsp" "$base/webapps/ROOT/"
    command=(java "${opts[@]}" -jar /usr/share/jetty9/start.jar jetty.home=/usr/share/jetty9 "jetty.base=$base")
    ;;
  service)
    path=/
    command=(java "${opts[@]}" -jar "$(classes_for_service)" "$PORT")
    ;;
  *) die "SERVER: tomcat, jetty or service" ;;
esac
[[ $heap == jwrap ]] && command=("$JWRAP" -- "${command[@]}")

# Start it in the cgroup.
# shellcheck disable=SC2016
env "${env_vars[@]}" sh -c 'echo $$ >"$0/cgroup.procs" && echo $$ >"$1/cgroup.procs" && shift && exec "$@"' \
  "$cg" "$cgc" "${command[@]}" >"$work/out" 2>&1 &
top=$!
java_pid=
for _ in $(seq 600); do
  if [[ -z $java_pid ]]; then
    for pid in $(cat "$cg/cgroup.procs"); do
      [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */java ]] && java_pid=$pid
    done
  fi
  curl_ok=$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && echo yes)
  [[ -n $curl_ok && -n $java_pid ]] && break
  kill -0 $top 2>/dev/null || break
  sleep 0.1
done
xmx=$( [[ -n $java_pid ]] && jcmd "$java_pid" VM.flags 2>/dev/null | tr ' ' '\n' | awk -F= '$1=="-XX:MaxHeapSize"{printf "%d", $2/1048576}')
collector=$( [[ -n $java_pid ]] && jcmd "$java_pid" VM.flags 2>/dev/null | tr ' ' '\n' | grep -oE 'Use(Serial|Parallel|G1|Z|Shenandoah)GC' | head -1)

# The load, and the NMT sampler beside it.
nmt_file=$work/nmt
: >"$nmt_file"
sampler() {
  while kill -0 "$java_pid" 2>/dev/null; do
    jcmd "$java_pid" VM.native_memory summary 2>/dev/null |
      awk '/^Total:/ {sub(/.*committed=/,""); sub(/KB.*/,""); print "Total", $1}
           /^-  *[A-Za-z ]+\(reserved=/ {name=$0; sub(/^- */,"",name); sub(/ *\(reserved.*/,"",name);
             c=$0; sub(/.*committed=/,"",c); sub(/KB.*/,"",c); gsub(/ /,"_",name); print name, c}' >>"$nmt_file"
    sleep 2
  done
}
# Tomcat listens before its application is deployed: wait for the page itself (it is compiled
# on the first request).
for _ in $(seq 240); do
  answer=$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'GET %s HTTP/1.0\r\n\r\n' "$path" >&3 && head -c 12 <&3) 2>/dev/null)
  [[ $answer == "HTTP/1.1 200" ]] && break
  kill -0 $top 2>/dev/null || break
  sleep 1
done
rps=0 failed=-1
if [[ -n $java_pid ]] && kill -0 $top 2>/dev/null; then
  [[ ${NMT:-0} == 1 ]] && { sampler & sampler_pid=$!; }
  ab_out=$(ab -q -n "$requests" -c 50 -s 30 "http://127.0.0.1:$PORT$path" 2>&1)
  echo "$ab_out" >>"$work/out"
  rps=$(awk '/^Requests per second/ {print $4}' <<<"$ab_out")
  failed=$(awk '/^Failed requests/ {print $3}' <<<"$ab_out")
  non2xx=$(awk '/^Non-2xx responses/ {print $3}' <<<"$ab_out")
  failed=$(( ${failed:-0} + ${non2xx:-0} ))
  [[ -z ${sampler_pid-} ]] || { kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null; }
fi
# An orderly stop: SIGTERM to the top process, 30 s.
stopped=no
kill -TERM $top 2>/dev/null
for _ in $(seq 300); do kill -0 $top 2>/dev/null || { stopped=yes; break; }; sleep 0.1; done
rc=0
wait $top 2>/dev/null || rc=$?
[[ $stopped == yes ]] || rc=timeout
oom=$(awk '$1=="oom_kill"{print $2}' "$cg/memory.oom_control")
peak=$(( $(cat "$cg/memory.max_usage_in_bytes") / MIB ))
nmt=$(awk '{ if ($2 > max[$1]) max[$1] = $2 } END { for (k in max) printf "%s=%d ", k, max[k]/1024 }' "$nmt_file")
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$limit" "$heap" "$gc" "$rc" \
  "$oom" "$stopped" "${rps:-0}" "$failed" "$peak" "${xmx:-?}" "${collector:-?}" "$nmt"
[[ -z ${KEEP_OUT-} ]] || cp "$work/out" "$KEEP_OUT"

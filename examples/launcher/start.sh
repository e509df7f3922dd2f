#!/bin/sh
# A launcher that assembles the java command itself (a classpath, options from the environment).
# jwrap cannot add arguments to a java command it does not start, so for a COMMAND that is not
# `java` it appends its flags to JAVA_TOOL_OPTIONS, which every JVM reads at start-up.
set -eu
exec java ${APP_JAVA_OPTS:-} -cp "/app/lib/*" com.example.shop.Main "$@"

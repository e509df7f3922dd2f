#!/bin/sh
# The pedantic clippy warnings by lint, each source location once (the library and its test build
# share code): the numbers of BENCHMARKS.md, "Lints". Usage: scripts/lint-count.sh
set -eu
cd "$(dirname "$0")/.."
touch src/lib.rs
cargo clippy --all-targets --message-format=json -- -W clippy::pedantic 2>/dev/null | python3 -c '
import collections, json, sys
seen, counts = set(), collections.Counter()
for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if message.get("reason") != "compiler-message":
        continue
    diagnostic = message["message"]
    code = (diagnostic.get("code") or {}).get("code")
    if not code or diagnostic["level"] != "warning":
        continue
    spans = [s for s in diagnostic["spans"] if s["is_primary"]]
    key = (code,) + ((spans[0]["file_name"], spans[0]["line_start"], spans[0]["column_start"]) if spans else ())
    if key not in seen:
        seen.add(key)
        counts[code] += 1
print("total", sum(counts.values()))
for code, count in counts.most_common():
    print(count, code)
'

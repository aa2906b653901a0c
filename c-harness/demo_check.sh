#!/bin/sh
# demo_check.sh DEMO PLUGIN - runs the demo on a fresh server directory,
# then every command it suggests ("  $ ..." lines): each must succeed, and
# the listing must show the image the demo leaves behind.
set -eu
demo=$1 plugin=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/combstore-demo-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$demo" "$tmp/demo-server" "$plugin" > "$tmp/out.txt" || { cat "$tmp/out.txt"; exit 1; }
grep '^  \$ ' "$tmp/out.txt" | sed 's/^  \$ //' > "$tmp/next.txt"
n=$(wc -l < "$tmp/next.txt")
[ "$n" -ge 5 ] || { echo "demo_check: the demo suggests $n commands, expected at least 5"; cat "$tmp/out.txt"; exit 1; }
while IFS= read -r cmd; do
  sh -c "$cmd" > "$tmp/cmd.txt" 2>&1 || { echo "demo_check: FAILED: $cmd"; cat "$tmp/cmd.txt"; exit 1; }
  case "$cmd" in
    *"image list"*) grep -q client1_1700000000_C1_F1 "$tmp/cmd.txt" \
      || { echo "demo_check: the image list lacks the demo's image"; cat "$tmp/cmd.txt"; exit 1; } ;;
  esac
done < "$tmp/next.txt"
echo "demo_check: the demo passed and its $n suggested commands succeeded"

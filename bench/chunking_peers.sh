#!/bin/sh
# Generation 2 growth of borg and restic on the streams bench/chunking.rs
# measures (datagen.rs, seed 8), for docs/dedup-choices.md: each peer backs
# up generation 1 then generation 2 from stdin into a fresh repository; the
# growth is the repository's size (du -sb) after gen 2 minus after gen 1.
# Defaults of each tool: borg --encryption=none, buzhash 512 KiB-8 MiB
# (2 MiB average), lz4; restic encrypted, 512 KiB-8 MiB (1 MiB average),
# zstd auto.
#
#   sh bench/chunking_peers.sh [SIZE_MIB]     (256 by default; needs borg, restic)
set -eu
size=${1:-256}
cd "$(dirname "$0")/.."
work=$(mktemp -d "$PWD/target/chunking-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT
cargo bench --bench chunking -- --write-streams "$work" --size-mib "$size"
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export RESTIC_PASSWORD=bench
bytes() { du -sb "$1" | cut -f1; }
logical=$(stat -c %s "$work/gen1.bin")

if command -v borg >/dev/null; then
  borg init --encryption=none "$work/borg"
  borg create "$work/borg::g1" - <"$work/gen1.bin"
  b1=$(bytes "$work/borg")
  borg create "$work/borg::g2" - <"$work/gen2.bin"
  b2=$(bytes "$work/borg")
  echo "borg $(borg --version | cut -d' ' -f2): gen 1 repo $b1 B, gen 2 growth $((b2 - b1)) B of $logical logical"
else
  echo "borg: not installed"
fi

if command -v restic >/dev/null; then
  restic -q -r "$work/restic" init >/dev/null
  restic -q -r "$work/restic" backup --stdin --stdin-filename stream <"$work/gen1.bin" >/dev/null
  r1=$(bytes "$work/restic")
  restic -q -r "$work/restic" backup --stdin --stdin-filename stream <"$work/gen2.bin" >/dev/null
  r2=$(bytes "$work/restic")
  echo "restic $(restic version | cut -d' ' -f2): gen 1 repo $r1 B, gen 2 growth $((r2 - r1)) B of $logical logical"
else
  echo "restic: not installed"
fi

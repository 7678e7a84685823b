#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) each, seeded from the test fixtures, and
# prints each one's executions. Used by .ci/run; `fuzz/brief.sh 300` for a longer round.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
fx=../crates/verbovka/tests/fixtures/telegram
declare -A seeds=(
  [normalize]="../crates/verbovka/tests/cases"
  [score]="../crates/verbovka/tests/cases"
  [json_reader]="$fx"
  [html_reader]="$fx/html_chat $fx/html_account/chats/chat_01"
  [score_jsonl_lines]="../crates/verbovka/examples/data"
)
cargo +nightly fuzz build
for t in normalize score json_reader html_reader score_jsonl_lines; do
  mkdir -p "corpus/$t"
  # shellcheck disable=SC2086
  nice -n 19 cargo +nightly fuzz run "$t" "corpus/$t" ${seeds[$t]} -- \
    -max_total_time="$secs" -max_len=65536 -print_final_stats=1 2>"fuzz-$t.log" \
    || { tail -40 "fuzz-$t.log"; echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)"; exit 1; }
  echo "fuzz: $t ${secs}s: $(grep -E '^stat::number_of_executed_units' "fuzz-$t.log" | awk '{print $2}') executions, 0 crashes"
done

"""Several verbovka builds timed alternately in one run (the step tables of BENCHMARKS.md).

    python3 crates/verbovka/benches/peers/ab.py MODES THREADS REPS BIN1 BIN2 ...
    e.g. python3 crates/verbovka/benches/peers/ab.py pipeline,model,forward 2 5 /tmp/before/dump_logits ./target/release/dump_logits

Each BIN is a `dump_logits` binary (`crates/verbovka-lab/src/bin/dump_logits.rs`), started once as a timing server
(`serve MODEL POSTS`); then, for each mode, every server scores all posts in turn, the order
reversed every repetition. Prints medians of wall-clock posts/s (with min..max) and of posts per
CPU-second, and ratios to BIN1, with the 1-minute load average of each repetition.
Env: POSTS (default /tmp/verbovka-peers-work/posts.jsonl, as written by `dump_logits dump`),
MODEL (default crates/verbovka/models/default/seed-7, one member of the shipped ensemble).
"""

import json
import os
import statistics
import subprocess
import sys


def main():
    modes, threads, reps, bins = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    posts = os.environ.get("POSTS", "/tmp/verbovka-peers-work/posts.jsonl")
    model = os.environ.get("MODEL", "crates/verbovka/models/default/seed-7")
    n = sum(1 for _ in open(posts))
    servers = []
    for b in bins:
        p = subprocess.Popen([b, "serve", model, posts], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(p.stdout.readline())["ready"]
        servers.append(p)
    for mode in modes:
        wall = [[] for _ in bins]
        cpu = [[] for _ in bins]
        loads = []
        for r in range(reps):
            loads.append(os.getloadavg()[0])
            order = list(range(len(bins)))
            if r % 2:
                order.reverse()
            for i in order:
                servers[i].stdin.write(f"{mode} {threads}\n")
                servers[i].stdin.flush()
                o = json.loads(servers[i].stdout.readline())
                wall[i].append(o["seconds"])
                cpu[i].append(o["cpu_seconds"])
        base, cbase = statistics.median(wall[0]), statistics.median(cpu[0])
        print(f"== {mode}, {threads} thread(s), {reps} reps, load(1m) {' '.join(f'{l:.2f}' for l in loads)}")
        for b, w, c in zip(bins, wall, cpu):
            m, cm = statistics.median(w), statistics.median(c)
            print(f"{b:<40} wall {n / m:6.0f} posts/s (min {n / max(w):.0f} max {n / min(w):.0f}) x{base / m:.2f}"
                  f" | per CPU-s {n / cm:6.0f} x{cbase / cm:.2f}")
    for p in servers:
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    main()

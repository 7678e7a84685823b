"""verbovka vs ONNX Runtime vs PyTorch on the same model, posts and batching policy.

Run through `benches/peers/run.sh` (creates the venv, builds the Rust side, then calls this).

    python harness.py --model DIR --posts POSTS.jsonl --server BIN [--reps 5] [--check 100]

POSTS.jsonl comes from `dump_logits dump` (the bench corpus, normalised, verbovka's token ids
and logits). Steps:
1. HF tokenizers (Python) re-tokenise the normalised texts: ids must equal verbovka's.
2. The model as an ONNX graph (onnx.helper) and as a PyTorch module; their logits must match
   verbovka's to 1e-4 on the first `--check` posts (and are reported on all).
3. Timing, in one process tree, alternating engines each repetition (rotating the order),
   medians of `--reps`: each pass scores every post once. Batching policy for all: tokenise,
   sort by token count, batches of 32; peers pad each batch to its longest post with a mask,
   verbovka packs it. Threads: ONNX Runtime `intra_op_num_threads`, torch `set_num_threads`,
   verbovka a rayon pool of that size (the model runs one batch per thread).
4. FLOPs per post at the measured lengths, FMA peak (fma_peak.c), fraction of peak.

An ensemble directory (`ensemble.json`, e.g. `models/default`, the default detector's three
members) runs every peer as the same ensemble: one session per member, each on its own
tokenizer's ids, logits averaged; verbovka's `pipeline` is then the default detector.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peer_models  # noqa: E402

BATCH = 32


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def batches_of(id_rows):
    order = sorted(range(len(id_rows)), key=lambda i: len(id_rows[i]))
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def padded(id_rows, idx, pad_id):
    rows = [id_rows[i] if id_rows[i] else [pad_id] for i in idx]
    t = max(len(r) for r in rows)
    ids = np.full((len(rows), t), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), t), dtype=np.float32)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = r
        mask[j, : len(r)] = 1.0
    return ids, mask


class Peer:
    """Tokenise with HF tokenizers, then run batches through `forward(ids, mask)`."""

    def __init__(self, tokenizer, max_len, pad_id, forward, workers=1, parallel_tokenize=False):
        self.tok, self.max_len, self.pad_id = tokenizer, max_len, pad_id
        self.forward, self.workers, self.parallel_tokenize = forward, workers, parallel_tokenize
        self.pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def tokenize(self, texts):
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if self.parallel_tokenize else "false"
        enc = self.tok.encode_batch_fast(texts, add_special_tokens=False)
        return [e.ids[: self.max_len] for e in enc]

    def run_ids(self, id_rows):
        jobs = [padded(id_rows, idx, self.pad_id) for idx in batches_of(id_rows)]
        if self.pool:
            return list(self.pool.map(lambda j: self.forward(*j), jobs))
        return [self.forward(*j) for j in jobs]

    def run(self, texts):
        return self.run_ids(self.tokenize(texts))


def check(name, got, want, n_check, whole):
    """Logits agree on the first `n_check` posts the model reads whole (`whole`): a longer post
    is read by verbovka in several windows (the maximum of their logits), by the peers in its
    first window only, so its logits differ by design."""
    diff = np.abs(np.asarray(got) - np.asarray(want))[whole]
    head = float(diff[:n_check].max())
    ok = head <= 1e-4
    print(f"  {name:<28} max |Δlogit| first {n_check} read whole: {head:.2e}  all {len(diff)} read whole: {float(diff.max()):.2e}  {'OK' if ok else 'FAIL'}")
    return ok


def logits_in_order(peer, id_rows):
    out = np.zeros((len(id_rows), 3), dtype=np.float32)
    for idx, res in zip(batches_of(id_rows), peer.run_ids(id_rows)):
        out[idx] = res
    return out


class EnsemblePeer:
    """One `Peer` per member, each on its own ids; logits averaged in post order."""

    def __init__(self, peers):
        self.peers = peers

    def logits_ids(self, rows_per_member):
        return sum(logits_in_order(p, rows) for p, rows in zip(self.peers, rows_per_member)) / len(self.peers)

    def logits_texts(self, texts):
        return self.logits_ids([p.tokenize(texts) for p in self.peers])


def member_dirs(model_dir):
    path = os.path.join(model_dir, "ensemble.json")
    if not os.path.exists(path):
        return [model_dir]
    with open(path) as f:
        return [os.path.join(model_dir, m) for m in json.load(f)["members"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--posts", required=True)
    ap.add_argument("--server", required=True, help="path of the dump_logits binary")
    ap.add_argument("--fma", help="path of the compiled fma_peak binary")
    ap.add_argument("--fma-width", default="auto", choices=("auto", "512", "256"), help="vector width of the peak the fractions are of (auto: the widest this CPU runs, the one verbovka's default engine uses)")
    ap.add_argument("--server-alt", help="a second dump_logits binary (e.g. built from a modified src/) timed alongside")
    ap.add_argument("--alt-label", default="verbovka*", help="row label prefix for --server-alt")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--check", type=int, default=100)
    ap.add_argument("--json-out")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--engine", default="auto", choices=("auto", "avx512", "avx2-fma", "portable"), help="the kernels verbovka runs (an AVX-512 machine measures the AVX2+FMA engine with avx2-fma; use --fma-width 256 with it)")
    ap.add_argument("--threads", type=int, choices=(1, 2), help="time only the engines with this many threads")
    args = ap.parse_args()

    import onnxruntime as ort
    import tokenizers
    from tokenizers import Tokenizer

    dirs = member_dirs(args.model)
    cfgs = [peer_models.load(d)[0] for d in dirs]
    cfg = cfgs[0]
    posts = [json.loads(l) for l in open(args.posts, encoding="utf-8")]
    texts = [p["norm"] for p in posts]
    v_ids_m = [[p.get("member_ids", [p["ids"]])[k] for p in posts] for k in range(len(dirs))]
    v_ids = v_ids_m[0]
    v_logits = np.array([p["logits"] for p in posts], dtype=np.float32)
    n = len(posts)
    toks = [Tokenizer.from_file(os.path.join(d, "tokenizer.json")) for d in dirs]
    pad_id = cfg["pad_id"]
    print(f"model: {args.model} ({len(dirs)} member{'s' if len(dirs) > 1 else ''})")
    print(f"posts: {n}, {sum(len(p['text'].encode()) for p in posts)} bytes; load {loadavg()}")
    print(f"python {platform.python_version()}, onnxruntime {ort.__version__}, tokenizers {tokenizers.__version__}, numpy {np.__version__}")

    # verbovka's timing servers (started before anything forks threads in this process)
    def start_server(path):
        p = subprocess.Popen([path, "serve", args.model, args.posts, args.engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = json.loads(p.stdout.readline())
        assert ready.get("ready"), ready
        print(f"{path}: engine {ready.get('engine')}")
        return p

    servers = {"verbovka": start_server(args.server)}
    if args.server_alt:
        servers[args.alt_label] = start_server(args.server_alt)

    # 1. tokenisation agrees
    for k, t in enumerate(toks):
        hf_ids = [e.ids[: cfgs[k]["max_len"]] for e in t.encode_batch_fast(texts, add_special_tokens=False)]
        same = sum(a == b for a, b in zip(hf_ids, v_ids_m[k]))
        print(f"HF tokenizers ids == verbovka ids (member {k}): {same}/{n}")

    # 2. peers, and correctness
    onnx_bytes = [peer_models.build_onnx(d).SerializeToString() for d in dirs]
    for k, b in enumerate(onnx_bytes):
        with open(os.path.join(os.path.dirname(args.posts), f"verbovka_peer_{k}.onnx"), "wb") as f:
            f.write(b)

    def ort_session(threads, k):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(onnx_bytes[k], so, providers=["CPUExecutionProvider"])
        return lambda ids, mask: s.run(["logits"], {"ids": ids, "mask": mask})[0]

    def mk(fwd_of, **kw):
        """The peer as an ensemble of its members (one member for a single model)."""
        return EnsemblePeer([Peer(toks[k], cfgs[k]["max_len"], cfgs[k]["pad_id"], fwd_of(k), **kw) for k in range(len(dirs))])

    engines = {}
    engines["onnxruntime 1 thread"] = (1, mk(lambda k: ort_session(1, k)))
    engines["onnxruntime 2 threads"] = (2, mk(lambda k: ort_session(2, k), parallel_tokenize=True))
    engines["onnxruntime 2 workers×1"] = (2, mk(lambda k: ort_session(1, k), workers=2, parallel_tokenize=True))
    torch = None
    if not args.no_torch:
        import torch

        encs = [peer_models.torch_encoder(d) for d in dirs]

        def torch_fwd(threads, k):
            def f(ids, mask):
                if torch.get_num_threads() != threads:
                    torch.set_num_threads(threads)
                with torch.inference_mode():
                    return encs[k](torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

            return f

        print(f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})")
        engines["pytorch 1 thread"] = (1, mk(lambda k: torch_fwd(1, k)))
        engines["pytorch 2 threads"] = (2, mk(lambda k: torch_fwd(2, k), parallel_tokenize=True))

    whole = np.array([not p["truncated"] for p in posts])
    print(f"correctness vs verbovka (same token ids, padded batches of 32 vs verbovka's packed; {int((~whole).sum())} posts over the window, which verbovka reads in several windows and the peers do not, left out):")
    ok = True
    for name, (_, peer) in engines.items():
        if "workers" in name:
            continue
        ok &= check(name, peer.logits_ids(v_ids_m), v_logits, args.check, whole)
    if not ok:
        print("peer logits do not match verbovka's: not timing")
        sys.exit(1)

    # 3. timing

    def verbovka(server, mode, threads):
        def f():
            server.stdin.write(f"{mode} {threads}\n")
            server.stdin.flush()
            o = json.loads(server.stdout.readline())
            return o["seconds"], o["cpu_seconds"]

        return f

    timed = {}
    for label, server in servers.items():
        for threads in (1, 2):
            for mode in ("forward", "model", "pipeline"):
                timed[f"{label} {mode} {threads}t"] = (threads, mode, verbovka(server, mode, threads))
    for name, (threads, peer) in engines.items():
        def fwd(peer=peer):
            t0, c0 = time.perf_counter(), time.process_time()
            peer.logits_ids(v_ids_m)
            return time.perf_counter() - t0, time.process_time() - c0

        def full(peer=peer):
            t0, c0 = time.perf_counter(), time.process_time()
            peer.logits_texts(texts)
            return time.perf_counter() - t0, time.process_time() - c0

        timed[f"{name} forward"] = (threads, "forward", fwd)
        timed[f"{name} model"] = (threads, "model", full)
    if args.threads:
        timed = {k: v for k, v in timed.items() if v[0] == args.threads}
    fma_width = []

    def fma_peak(threads):
        r = subprocess.run([args.fma, str(threads), args.fma_width], capture_output=True, text=True, check=True)
        fma_width[:] = [r.stderr.strip().split()[-1]]
        return float(r.stdout)

    peak0 = {}
    if args.fma:
        for t in (1, 2):
            peak0[t] = fma_peak(t)
    for name, (_, _, f) in timed.items():  # warm-up
        f()
    results = {k: [] for k in timed}
    cpu = {k: [] for k in timed}
    loads = []
    names = list(timed)
    for rep in range(args.reps):
        loads.append(os.getloadavg()[0])
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            wall, c = timed[name][2]()
            results[name].append(wall)
            cpu[name].append(c)
    for server in servers.values():
        server.stdin.close()
        server.wait()

    # 4. FLOPs and peak
    # FLOPs of the job: every member on its own token counts.
    lens_m = [np.array([max(len(r), 1) for r in rows]) for rows in v_ids_m]
    lens = lens_m[0]
    flops = sum(np.array([peer_models.flops_per_post(cfgs[k], int(t)) for t in lens_m[k]]) for k in range(len(dirs)))
    pad_lens = np.zeros(n)
    for idx in batches_of(v_ids):
        pad_lens[idx] = lens[idx].max()
    peak = {}
    if args.fma:
        for t in (1, 2):
            peak[t] = fma_peak(t)
    mean_flops = float(flops.mean())
    print()
    print(f"tokens read per post: mean {lens.mean():.1f}, median {np.median(lens):.0f}, p90 {np.percentile(lens, 90):.0f}, max {lens.max()}; padded batches of 32 hold {pad_lens.sum() / lens.sum():.3f}× the tokens")
    print(f"model FLOPs per post (useful, unpadded, every member): mean {mean_flops / 1e6:.2f} MFLOP")
    if peak:
        peak = {t: max(peak[t], peak0.get(t, 0)) for t in peak}
        print(f"FMA peak (fma_peak.c, 16 chains of {fma_width[0]} vfmadd, best of 5 before and 5 after timing): 1 thread {peak[1]:.0f} GFLOP/s, 2 threads {peak[2]:.0f} GFLOP/s (a 2-thread figure below 2× the 1-thread one means another job held a core)")
        peak[2] = max(peak[2], 2 * peak[1])  # fraction of the 2-core peak: the hardware's, not what was free
    print(f"load average during timing (1 min): {', '.join(f'{l:.2f}' for l in loads)}; after: {loadavg()}")
    print()
    rows = []
    for name, (threads, kind, _) in timed.items():
        secs = statistics.median(results[name])
        pps = n / secs
        gflops = mean_flops * pps / 1e9
        frac = gflops / peak[threads] if peak else float("nan")
        cpu_pps = n / statistics.median(cpu[name])
        rows.append(dict(engine=name, threads=threads, kind=kind, seconds=results[name], cpu_seconds=cpu[name], median_s=secs, posts_per_s=pps, posts_per_cpu_s=cpu_pps, gflops=gflops, peak_frac=frac))
    best_peer_model = max((r for r in rows if not r["engine"].startswith("verbovka") and r["kind"] == "model"), key=lambda r: r["posts_per_s"])
    best_peer_fwd = max((r for r in rows if not r["engine"].startswith("verbovka") and r["kind"] == "forward"), key=lambda r: r["posts_per_s"])
    print(f"{'engine':<38} {'posts/s':>9} {'min..max':>17} {'GFLOP/s':>8} {'% peak':>7} {'÷ best peer':>11} {'posts/CPU-s':>12}")
    for r in rows:
        ref = best_peer_fwd if r["kind"] == "forward" else best_peer_model
        lo, hi = n / max(r["seconds"]), n / min(r["seconds"])
        label = r["engine"] if r["engine"].startswith("verbovka") else r["engine"]
        print(f"{label:<38} {r['posts_per_s']:>9.0f} {lo:>8.0f}..{hi:<8.0f} {r['gflops']:>8.1f} {100 * r['peak_frac']:>6.1f}% {r['posts_per_s'] / ref['posts_per_s']:>10.2f}× {r['posts_per_cpu_s']:>12.0f}")
    print()
    print("kinds: forward = pre-tokenised ids → logits; model = normalised text → tokenise → logits;")
    print("       pipeline = raw text → normalise, rules, tokenise, model, fusion → verdict (verbovka only)")
    print(f"best peer, model (tokenise + forward): {best_peer_model['engine']} {best_peer_model['posts_per_s']:.0f} posts/s")
    for label in servers:
        vp = max((r for r in rows if r["kind"] == "pipeline" and r["engine"].startswith(label + " ")), key=lambda r: r["posts_per_s"])
        print(f"{label} full pipeline ({vp['engine']}) / best peer model-only: {vp['posts_per_s'] / best_peer_model['posts_per_s']:.2f}×")
    print("posts/CPU-s: posts per second of CPU time used by the engine's process (all its threads,")
    print("  spinning included): for 1-thread engines the figure least disturbed by other jobs on the machine")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(dict(posts=n, peak=peak, mean_flops=mean_flops, loads=loads, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

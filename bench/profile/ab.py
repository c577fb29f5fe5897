"""Interleaved A/B timing of SCNet small `core` on one 11 s chunk: CPU time (process) and wall, per variant.
usage: OMP_NUM_THREADS=N python ab.py --threads N --variants base,fusion_fold,... --repeats R"""
import argparse, os, sys, time, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
ap = argparse.ArgumentParser()
ap.add_argument('--threads', type=int, default=1); ap.add_argument('--repeats', type=int, default=3)
ap.add_argument('--variants', default='base,fusion_fold'); ap.add_argument('--model', default='small')
ap.add_argument('--seconds', type=float, default=11.0); ap.add_argument('--batch', type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
import patches
from mss.models.scnet import SCNet, SCNET_CONFIGS
if a.model == 'shipped':
    from mss.inference import InferenceEngine
    m = InferenceEngine.from_pretrained(device='cpu').model.eval()
else:
    torch.manual_seed(0); m = SCNet(**SCNET_CONFIGS[a.model]).eval()
g = torch.Generator().manual_seed(0)
mix = 0.1 * torch.randn(a.batch, 2, int(a.seconds * 44100), generator=g)
variants = a.variants.split(',')
with torch.inference_mode():
    f = m.framing.analysis(mix)
    ref = None; res = {v: [] for v in variants}; err = {}
    for r in range(a.repeats + 1):  # first round = warm-up, not timed
        for v in variants:
            patches.apply(v.split('#')[0].split('+'), m)
            c0, w0 = time.process_time(), time.perf_counter()
            y = m.core(f)
            c, w = time.process_time() - c0, time.perf_counter() - w0
            if ref is None: ref = y.clone()
            if r: res[v].append((c, w))
            else: err[v] = float((y - ref).abs().max()) / float(ref.abs().max())
            del y
patches.reset(m)
base = min(c for c, _ in res[variants[0]])
print(f"threads {a.threads}, model {a.model}, {a.seconds:g} s x batch {a.batch}, repeats {a.repeats} (+1 warm-up), load {os.getloadavg()[0]:.2f}")
print("| variant | CPU min (s) | CPU median (s) | wall min (s) | vs first (CPU min) | max rel err vs first |\n|---|---|---|---|---|---|")
for v in variants:
    cs = [c for c, _ in res[v]]; ws = [w for _, w in res[v]]
    print(f"| {v} | {min(cs):.3f} | {statistics.median(cs):.3f} | {min(ws):.3f} | {100 * (min(cs) / base - 1):+.1f} % | {err[v]:.2e} |")

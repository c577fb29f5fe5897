"""Profile SCNet small core (+framing) on one 11 s chunk by operator, grouped.
usage: OMP_NUM_THREADS=N python prof.py --threads N [--patch]"""
import argparse, os, sys, time, collections
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
from torch.profiler import profile, ProfilerActivity
ap = argparse.ArgumentParser(); ap.add_argument('--threads', type=int, default=2); ap.add_argument('--patch', default='')
ap.add_argument('--model', default='small'); ap.add_argument('--top', type=int, default=25); ap.add_argument('--runs', type=int, default=3)
a = ap.parse_args()
torch.set_num_threads(a.threads)
from mss.models.scnet import SCNet, SCNET_CONFIGS
import patches
torch.manual_seed(0)
m = SCNet(**SCNET_CONFIGS['small']).eval()
patches.apply(a.patch.split('+'), m)
g = torch.Generator().manual_seed(0)
mix = 0.1 * torch.randn(1, 2, 485100, generator=g)
with torch.inference_mode():
    m(mix)  # warm-up
    best = None
    for _ in range(a.runs):  # keep the profiled run with the least wall time (the least disturbed by other load)
        with profile(activities=[ProfilerActivity.CPU]) as p:
            c0 = time.process_time(); w0 = time.perf_counter()
            m(mix)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if best is None or wall < best[2]: best = (p, cpu, wall)
    p, cpu, wall = best
def group(name):
    n = name.lower()
    if 'lstm' in n or 'rnn' in n: return 'BiLSTM'
    if 'conv' in n and 'convert' not in n: return 'conv'
    if any(k in n for k in ('stft', 'fft', 'complex', 'view_as')): return 'fft/stft'
    if any(k in n for k in ('cat', 'copy', 'contiguous', 'clone', 'repeat', 'pad', 'to', 'index', 'slice', 'stack', 'reshape', 'permute', 'transpose', 'view', 'expand', 'empty', 'narrow')): return 'copies/cat'
    if any(k in n for k in ('linear', 'addmm', 'mm', 'matmul', 'bmm')): return 'linear (LSTM out)'
    if 'norm' in n: return 'groupnorm'
    return 'elementwise/other'
# classify each event by its top-most aten ancestor; accumulate self CPU time
evs = p.events()
tot = collections.Counter(); byop = collections.Counter(); cnt = collections.Counter()
for e in evs:
    top = e
    while top.cpu_parent is not None and top.cpu_parent.name.startswith('aten::'): top = top.cpu_parent
    if not e.name.startswith('aten::') and not e.name.startswith('mkldnn'): pass
    t = e.self_cpu_time_total
    gname = group(top.name)
    tot[gname] += t; byop[top.name] += t
T = sum(tot.values())
print(f"threads {a.threads} patch {a.patch or '-'}: cpu {cpu:.2f} s wall {wall:.2f} s (profiled, least-wall of {a.runs} runs), load {os.getloadavg()[0]:.2f}")
print("| group | self CPU (ms, profiler) | share |\n|---|---|---|")
for k, v in tot.most_common(): print(f"| {k} | {v/1e3:.0f} | {100*v/T:.1f} % |")
print("\n| top-level op | ms | share |\n|---|---|---|")
for k, v in byop.most_common(a.top): print(f"| {k} | {v/1e3:.0f} | {100*v/T:.1f} % |")
leaf = collections.Counter(); lc = collections.Counter()
for e in evs:
    top = e
    while top.cpu_parent is not None and top.cpu_parent.name.startswith('aten::'): top = top.cpu_parent
    leaf[(top.name, e.name)] += e.self_cpu_time_total; lc[(top.name, e.name)] += 1
lg = collections.Counter()
for (t, l), v in leaf.items():
    ln = l.lower()
    if any(k in ln for k in ('copy_', 'cat', 'fill_', 'clone', 'contiguous', 'stack')): lg['copies/cat/fill (leaf)'] += v
    else: lg[group(t)] += v
print("\n| group, copies counted by leaf op | ms | share |\n|---|---|---|")
for k, v in lg.most_common(): print(f"| {k} | {v/1e3:.0f} | {100*v/T:.1f} % |")
print("\n| top-level op | leaf op (self time) | calls | ms | share |\n|---|---|---|---|---|")
for (t, l), v in leaf.most_common(a.top): print(f"| {t} | {l} | {lc[(t, l)]} | {v/1e3:.0f} | {100*v/T:.1f} % |")

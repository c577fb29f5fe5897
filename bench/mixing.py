"""Mixing benchmarks (issue 5): forward+backward time of MF-56 and of the MixingStyleEncoder on a 10 s stereo 4-stem
example, TCN-mixer optimisation steps/s in features and embeddings mode, and the shipped encoder's held-out retrieval.

Run: python bench/mixing.py [--threads 2] [--retrieval-n 12] [--root GENERATED_SET] [--out bench/out/mixing_timings.md]
CPU only. Prints a markdown block; numbers depend on machine load (reported).
"""
import argparse, os, time, statistics
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=2)
p.add_argument('--repeats', type=int, default=3)
p.add_argument('--mixer-steps', type=int, default=4)
p.add_argument('--retrieval-n', type=int, default=12)
p.add_argument('--retrieval-seeds', type=int, default=5, help='draws of n songs x n settings, averaged')
p.add_argument('--root', default=None, help='a generated dataset (mss-make-dataset); its test split is also scored')
p.add_argument('--encoder', default=None, help='checkpoint to score instead of the shipped one')
p.add_argument('--out', default=None)
a = p.parse_args()
torch.set_num_threads(a.threads)
from mss.features import mixing_features, feature_distance, MF56_STEMS
from mss.synth import toy_song
from mss.encoder import MixingStyleEncoder, SyntheticSongs, FolderSongs, retrieval_accuracy, HELD_OUT_SEED
from mss.mixer import TCNMixer, optimise_mixer

def timeit(fn, repeats):
    fn()  # warm-up (caches, allocator)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

sr = 44100
song = toy_song(123, 10.0, sr)
lines = [f"load average before: {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs), torch threads: {a.threads}", ""]

def feat_fb():
    x = {k: v.clone().requires_grad_(True) for k, v in song.items()}
    mixing_features(x, sr).sum().backward()
t_feat = timeit(feat_fb, a.repeats)

enc = MixingStyleEncoder.from_pretrained(a.encoder)
def enc_fb():
    x = {k: v[None].clone().requires_grad_(True) for k, v in song.items()}
    enc(x).sum().backward()
t_enc = timeit(enc_fb, a.repeats)

target = toy_song(321, 10.0, sr)
with torch.no_grad():
    f_t = mixing_features(target, sr)
    e_t = enc({k: v[None] for k, v in target.items()})
res = {}
for mode in ('features', 'embeddings'):
    mixer = TCNMixer(MF56_STEMS, sr)  # the stem order of the RESULTS runs (it sets the network's channel order)
    if mode == 'features': loss = lambda s, m: feature_distance(mixing_features(s, sr), f_t)
    else: loss = lambda s, m: 1 - F.cosine_similarity(enc({k: v[None] for k, v in s.items()}), e_t).mean()
    optimise_mixer(mixer, song, loss, steps=1, lr=1e-3)  # warm-up
    t = time.perf_counter(); optimise_mixer(mixer, song, loss, steps=a.mixer_steps, lr=1e-3); dt = time.perf_counter() - t
    res[mode] = a.mixer_steps / dt

def mean_retrieval(make_source):
    rs = [retrieval_accuracy(enc, make_source(), n=a.retrieval_n, seed=7 + i) for i in range(a.retrieval_seeds)]
    return {k: statistics.mean(r[k] for r in rs) for k in ('pair_accuracy', 'same_song_accuracy', 'top1', 'chance_top1')}
t = time.perf_counter()
sources = {f"synthetic fallback songs (seeds {HELD_OUT_SEED + 500}+)": lambda: SyntheticSongs('heldout', 10.0, sr, pool=a.retrieval_n, refresh=0, seed=500)}
if a.root: sources[f"generated songs, test split of {a.root}"] = lambda: FolderSongs(a.root, 10.0, sr, split='test')
rets = {name: mean_retrieval(src) for name, src in sources.items()}
t_ret = time.perf_counter() - t
need = 500 / 120
lines += ["| measurement (10 s, stereo, 4 stems, 44.1 kHz, CPU) | value |", "|---|---|",
          f"| `mixing_features` forward + backward | {t_feat:.2f} s |",
          f"| `MixingStyleEncoder` forward + backward (to the audio) | {t_enc:.2f} s |",
          f"| TCN mixer optimisation, features mode | {res['features']:.3f} steps/s ({500 / res['features'] / 60:.1f} min for 500 steps) |",
          f"| TCN mixer optimisation, embeddings mode | {res['embeddings']:.3f} steps/s ({500 / res['embeddings'] / 60:.1f} min for 500 steps) |",
          f"| needed for 500 steps in 2 min | {need:.2f} steps/s: features mode {'meets' if res['features'] >= need else 'misses'} it ({res['features'] / need:.2f}×), embeddings mode {'meets' if res['embeddings'] >= need else 'misses'} it ({res['embeddings'] / need:.2f}×) |",
          "", f"Held-out retrieval of the shipped encoder (mean of {a.retrieval_seeds} draws of {a.retrieval_n} songs × {a.retrieval_n} settings, 10 s; {t_ret:.0f} s):", "",
          "| songs | pair accuracy (chance 0.5) | same-song negatives (chance 0.5) | top-1 |", "|---|---|---|---|"]
lines += [f"| {name} | {r['pair_accuracy']:.3f} | {r['same_song_accuracy']:.3f} | {r['top1']:.3f} (chance {r['chance_top1']:.3f}) |" for name, r in rets.items()]
lines += ["", f"load average after: {os.getloadavg()[0]:.1f}"]
text = "\n".join(lines)
print(text)
if a.out: open(a.out, 'w').write(text + "\n")

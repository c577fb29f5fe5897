"""SaShiMi benchmarks (CPU, one thread).

  python bench/sashimi.py speed  [--n 16384]            # recurrent generation vs re-running convolution mode
  python bench/sashimi.py train  [--steps 300] [...]    # joint stereo vs two mono models on correlated stereo data

Results go to bench/sashimi_out/ (JSON, committed; 1-s WAVs, not committed: *.wav is gitignored); the numbers are copied into bench/RESULTS.md §5.
"""
import argparse, json, math, os, platform, time
from pathlib import Path
import torch

torch.set_num_threads(1)
from mss.models import count_params
from mss.models.sashimi import Sashimi, generate, save_generated
from mss.quantized import quantize, ar_pair, zero_token
from mss.sashimi_train import TrainConfig, train_sashimi, evaluate
from mss.events import StepCompleted, ValidationCompleted

OUT = Path(__file__).parent / 'sashimi_out'


def _clock():
    return time.perf_counter(), time.process_time()


def speed(args):
    torch.manual_seed(0)
    m = Sashimi().eval()  # the published 4,988,928-parameter mono model (random weights: speed does not depend on them)
    res = {'params': count_params(m), 'n': args.n, 'threads': torch.get_num_threads(), 'cpu': platform.processor() or platform.machine(),
           'load_avg_start': os.getloadavg()}
    # recurrent mode: the whole n-sample generation, measured
    w0, c0 = _clock()
    generate(m, args.n, batch=1, temperature=1.0, seed=0)
    w1, c1 = _clock()
    res['recurrent'] = {'wall_s': w1 - w0, 'cpu_s': c1 - c0, 'per_sample_ms_wall': 1e3 * (w1 - w0) / args.n}
    # convolution mode: one forward over the prefix per generated sample. Timed at a ladder of prefix lengths
    # (padded to a multiple of 16, as the model requires), then summed over all n prefixes by linear interpolation.
    ladder = [16, 64, 256, 1024, 4096, 16384]
    ladder = [L for L in ladder if L <= max(args.n, 16)]
    times = {}
    with torch.no_grad():
        for L in ladder:
            x = torch.randint(0, 256, (1, L))
            m(x)  # warm-up
            reps = max(1, min(20, int(2048 // L) + 1))
            w0, c0 = _clock()
            for _ in range(reps): m(x)
            w1, c1 = _clock()
            times[L] = {'wall_s': (w1 - w0) / reps, 'cpu_s': (c1 - c0) / reps}
    Ls = sorted(times)

    def f(L, key):
        if L <= Ls[0]: return times[Ls[0]][key]
        for a, b in zip(Ls, Ls[1:]):
            if L <= b: return times[a][key] + (times[b][key] - times[a][key]) * (L - a) / (b - a)
        return times[Ls[-1]][key] * L / Ls[-1]

    est = {k: sum(f(16 * math.ceil(t / 16), k) for t in range(1, args.n + 1)) for k in ('wall_s', 'cpu_s')}
    # direct check of the estimate: actually run the naive loop for the first `check` samples
    check = args.check
    with torch.no_grad():
        seq = torch.full((1, 1), zero_token(8), dtype=torch.long)
        w0, c0 = _clock()
        for t in range(1, check + 1):
            L = 16 * math.ceil(t / 16)
            x = torch.nn.functional.pad(seq, (0, L - seq.shape[1]), value=zero_token(8))
            logits = m(x)[:, t - 1]
            nxt = torch.multinomial(torch.softmax(logits, -1), 1)
            seq = torch.cat([seq, nxt], 1)
        w1, c1 = _clock()
    est_check = sum(f(16 * math.ceil(t / 16), 'wall_s') for t in range(1, check + 1))
    res['conv_ladder'] = {str(k): v for k, v in times.items()}
    res['conv_rerun_estimate'] = est
    res['conv_rerun_direct_first'] = {'samples': check, 'wall_s': w1 - w0, 'cpu_s': c1 - c0, 'estimate_wall_s': est_check}
    res['speedup_wall'] = est['wall_s'] / res['recurrent']['wall_s']
    res['speedup_cpu'] = est['cpu_s'] / res['recurrent']['cpu_s']
    res['load_avg_end'] = os.getloadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / 'speed_results.json').write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


def correlated_stereo(n_clips, L, seed, sr=16000, shared_noise=0.0, own_noise=0.01):
    """Synthetic correlated stereo clips, 8-bit mu-law tokens (L, 2).

    Source s: 1-3 harmonic notes (fundamental 80-600 Hz, 4 harmonics with 1/k amplitudes, random phases, exponential
    decay) scaled to peak 0.8, plus white noise of std `shared_noise` (common to both channels: unpredictable from the
    past, like centre-panned noisy material). Left = s + n_L; right = g * s delayed by d samples + n_R, with
    g ~ U[0.4, 1] and d ~ U{0..3} per clip and independent white noises n_L, n_R of std `own_noise`.
    One min-max range for both channels, 8-bit mu-law.
    """
    g = torch.Generator().manual_seed(seed)
    clips = []
    for _ in range(n_clips):
        t = torch.arange(L + 4) / sr
        s = torch.zeros(L + 4)
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            f0 = 80 * 7.5 ** float(torch.rand(1, generator=g))
            env = torch.exp(-t * float(2 + 10 * torch.rand(1, generator=g)))
            for k in range(1, 5):
                s += env * torch.sin(2 * math.pi * k * f0 * t + 6.283 * float(torch.rand(1, generator=g))) / k
        s = s / s.abs().max() * 0.8 + shared_noise * torch.randn(L + 4, generator=g)
        gain, d = 0.4 + 0.6 * float(torch.rand(1, generator=g)), int(torch.randint(0, 4, (1,), generator=g))
        left = s[4:] + own_noise * torch.randn(L, generator=g)
        right = gain * s[4 - d:L + 4 - d] + own_noise * torch.randn(L, generator=g)
        a = torch.stack([left, right], -1)
        a = 2 * (a - a.min()) / (a.max() - a.min()) - 1
        clips.append(ar_pair(quantize(a, 8, 'mulaw')))
    return clips


def entropy_bits(tokens):
    c = torch.bincount(tokens.flatten(), minlength=256).double()
    p = c[c > 0] / c.sum()
    return float(-(p * p.log2()).sum())


def train(args):
    OUT.mkdir(exist_ok=True)
    kw = dict(shared_noise=args.shared_noise, own_noise=args.own_noise)
    tr, va = correlated_stereo(args.train_clips, args.L, 0, **kw), correlated_stereo(args.valid_clips, args.L, 1, **kw)
    res_path = OUT / f'train_results{args.tag}.json'
    ytr = torch.stack([y for _, y in tr])
    res = {'data': correlated_stereo.__doc__.strip(), 'data_args': kw, 'tag': args.tag, 'L': args.L, 'train_clips': len(tr), 'valid_clips': len(va),
           'unigram_bits': entropy_bits(ytr), 'unigram_bits_L': entropy_bits(ytr[..., 0]), 'unigram_bits_R': entropy_bits(ytr[..., 1]),
           'model': dict(d_model=args.d_model, n_layers=args.n_layers, pool=[4, 4], d_state=args.d_state),
           'train': dict(steps=args.steps, batch_size=args.batch, lr=args.lr, valid_every=args.valid_every), 'runs': {},
           'load_avg_start': os.getloadavg()}
    # unigram of the joint (L, R) pair, for reference: the best a model without context could do per stereo step
    pair = ytr[..., 0] * 256 + ytr[..., 1]
    c = torch.bincount(pair.flatten()).double(); p = c[c > 0] / c.sum()
    res['unigram_pair_bits'] = float(-(p * p.log2()).sum())
    runs = {'joint': (True, None), 'mono_L': (False, 0), 'mono_R': (False, 1)}
    for name in args.runs.split(','):
        stereo, ch = runs[name]
        sel = (lambda d: d) if stereo else (lambda d, ch=ch: [(x[:, ch:ch + 1], y[:, ch:ch + 1]) for x, y in d])
        torch.manual_seed(0)
        m = Sashimi(**res['model'], is_stereo=stereo)
        cfg = TrainConfig(lr=args.lr, batch_size=args.batch, epochs=10 ** 6, max_steps=args.steps, valid_every=args.valid_every,
                          plateau_patience=5, device='cpu', checkpoint_dir=str(Path(args.ckpt) / f'ckpt{args.tag}_{name}'))
        w0 = time.perf_counter()
        hist = []
        v0 = evaluate(m, sel(va), args.batch)
        hist.append({'kind': 'valid', 'step': 0, **v0})
        for e in train_sashimi(m, sel(tr), sel(va), cfg):
            if isinstance(e, StepCompleted): rec = {'kind': 'train', 'step': e.step, 'loss': e.loss, 'lr': e.lr, **e.metrics}
            elif isinstance(e, ValidationCompleted): rec = {'kind': 'valid', 'step': e.step, **e.metrics}
            else: continue  # the history at the end: already recorded
            rec['wall_s'] = time.perf_counter() - w0
            hist.append(rec)
            if rec['kind'] == 'valid': print(name, json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()}), flush=True)
        res['runs'][name] = {'params': count_params(m), 'wall_s': time.perf_counter() - w0, 'history': hist,
                             'final_valid': [h for h in hist if h['kind'] == 'valid'][-1]}
        if stereo:
            w0 = time.perf_counter()
            toks = generate(m, args.gen, batch=2, temperature=1.0, seed=0)
            res['gen_wall_s'] = time.perf_counter() - w0
            save_generated(OUT / f'gen_joint{args.tag}.wav', toks, 16000)
        res_path.write_text(json.dumps(res, indent=1))
    # an example of the training data, 1 s
    from mss.models.sashimi import tokens_to_audio
    from mss.audio import save_audio
    ex = torch.cat([y for _, y in tr[:max(1, 16000 // args.L)]], 0)[:16000]
    save_audio(OUT / f'data_example{args.tag}.wav', tokens_to_audio(ex), 16000)
    res['load_avg_end'] = os.getloadavg()
    res_path.write_text(json.dumps(res, indent=1))


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('speed'); s.add_argument('--n', type=int, default=16384); s.add_argument('--check', type=int, default=256)
    t = sub.add_parser('train')
    t.add_argument('--steps', type=int, default=300); t.add_argument('--batch', type=int, default=8)
    t.add_argument('--L', type=int, default=1024); t.add_argument('--train-clips', type=int, default=512)
    t.add_argument('--valid-clips', type=int, default=32); t.add_argument('--d-model', type=int, default=32)
    t.add_argument('--n-layers', type=int, default=2); t.add_argument('--d-state', type=int, default=32)
    t.add_argument('--lr', type=float, default=4e-3); t.add_argument('--valid-every', type=int, default=25)
    t.add_argument('--gen', type=int, default=16000); t.add_argument('--ckpt', default='/tmp/sashimi_bench_ckpt'); t.add_argument('--runs', default='joint,mono_L,mono_R')
    t.add_argument('--shared-noise', type=float, default=0.0); t.add_argument('--own-noise', type=float, default=0.01)
    t.add_argument('--tag', default='', help='suffix of the output files')
    a = ap.parse_args()
    {'speed': speed, 'train': train}[a.cmd](a)

"""How long does `mss-style-transfer` take? The command itself, both modes, 500 steps on 10 s segments, wall time from
the shell (model loading, separation, optimisation, render, writing), plus the cost of one step's parts (issue 13 §3).

    python bench/style_speed.py --input A.wav --target B.wav --out bench/results/style/speed.json --threads 2

Run it on an otherwise idle machine: the numbers are wall-clock times.
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path


def parts(a):
    "Forward+backward time of each part of one step on a 2 s crop (median of 10 after 3 warm-ups)."
    import numpy as np, torch
    torch.set_num_threads(a.threads)
    from mss.audio import load_audio
    from mss.encoder import MixingStyleEncoder
    from mss.features import mixing_features, feature_distance, MF56_STEMS
    from mss.mixer import TCNMixer
    mix, _ = load_audio(a.input, 44100, 2, 0, 10)
    x = (mix / 4)[None, None].repeat(1, 4, 1, 1)  # stand-in stems: only the cost is measured
    m = TCNMixer(MF56_STEMS); enc = MixingStyleEncoder.from_pretrained().requires_grad_(False)
    X = m.proc.stft(x)
    with torch.no_grad(): A = m.analysis(X)
    n, hop = 201, m.proc.hop
    d = lambda y: {k: y[:, i] for i, k in enumerate(MF56_STEMS)}
    with torch.no_grad():
        y0 = m.proc.process(X[..., :n], **m.control_net(A[..., :n]), length=(n - 1) * hop)
        ft, et = mixing_features(d(y0))[0], enc(d(y0))[0]
    def tm(f):
        for _ in range(3): f()
        ts = []
        for _ in range(10):
            t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        return round(float(np.median(ts)) * 1000, 1)
    def mixer_fb():
        y = m.proc.process(X[..., 100:100 + n], **m.control_net(A[..., 100:100 + n]), length=(n - 1) * hop); y.pow(2).mean().backward()
    yy = y0.clone().requires_grad_(True)
    def feat_fb(): feature_distance(mixing_features(d(yy))[0], ft).backward()
    def emb_fb(): (1 - (enc(d(yy))[0] * et).sum()).backward()
    def feat_f():
        with torch.no_grad(): mixing_features(d(yy))
    def emb_f():
        with torch.no_grad(): enc(d(yy))
    return dict(mixer_forward_backward_ms=tm(mixer_fb), mf56_forward_backward_ms=tm(feat_fb), mf56_forward_ms=tm(feat_f),
                encoder_forward_backward_ms=tm(emb_fb), encoder_forward_ms=tm(emb_f))


def main(a):
    res = dict(machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", threads=a.threads,
               command='mss-style-transfer --input_audio A --target_audio B --optimize_target MODE (500 steps, 10 s segments)')
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    for mode in ('features', 'embeddings'):
        with tempfile.TemporaryDirectory() as t:
            t0 = time.perf_counter()
            r = subprocess.run(['mss-style-transfer', '--input_audio', a.input, '--target_audio', a.target, '--optimize_target', mode,
                                '--output_dir', str(Path(t) / 'o'), '--quiet', '--device', 'cpu'], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if r.returncode: sys.exit(r.stderr)
            m = json.loads((Path(t) / 'o' / 'metrics.json').read_text())
        res[mode] = dict(wall_s=round(wall, 1), timing_s=m['timing_s'], r_feature=round(m['r_feature'], 4), r_embedding=round(m['r_embedding'], 4))
        print(mode, res[mode], flush=True)
    res['step_parts_2s_crop'] = parts(a)
    print(res['step_parts_2s_crop'])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--input', required=True); p.add_argument('--target', required=True)
    p.add_argument('--out', required=True); p.add_argument('--threads', type=int, default=2)
    main(p.parse_args())

"""Does `mss.style` transfer a mixing style? Ordered pairs of held-out generated songs, both modes, 500 steps, with the
baselines, a known-style check and the distance each run did not optimise (issue 13 §4).

    python bench/style_pairs.py run --songs /work/data/sep_data/test --out bench/results/style --pairs 20 --known 6 --jobs 2
    python bench/style_pairs.py summary --out bench/results/style
    python bench/style_pairs.py run --songs ... --out OUT2 --pairs 9 --known 0 --modes features --static-steps 0 --identity-weight 1

`--songs` is a MUSDB18-layout folder of the shipped separator's held-out songs (bench/separator_data.py's test split;
the style encoder's training left these titles out too: bench/encoder_heldout_titles.txt). One track per song (the first
window), its first `--duration` seconds. Each song is separated once with the shipped separator, exactly as the
pipeline does, and the stems are passed to `StyleTransfer.run`. Runs are written one JSON each under OUT/runs and are
skipped when present, so the command resumes.

Known-style check: the target song's *true* stems are re-mixed with known per-stem gains (uniform ±6 dB) and a
three-region EQ (low / mid / high bands, uniform ±6 dB), the remix is separated again, and the input song is
transferred to it. The same input transferred to the unmodified target is the reference: the change of the output's
per-stem relative loudness between the two runs is compared with the change the known settings made to the target's
true stems.
"""
import argparse, json, time
from pathlib import Path
import numpy as np


def _songs(root, n=None):
    root = Path(root)
    tracks = sorted(d for d in root.iterdir() if d.is_dir() and '(part' not in d.name)
    return tracks[:n] if n else tracks


def _load(track, duration):
    from mss.audio import load_audio
    return {k: load_audio(track / f'{k}.wav', 44100, 2, 0.0, duration)[0] for k in ('mixture', 'vocals', 'bass', 'drums', 'other')}


def _known_settings(seed):
    rng = np.random.default_rng(seed)
    gains = rng.uniform(-6, 6, 4)
    regions = rng.uniform(-6, 6, (4, 3))  # low (bands 0-2: < 500 Hz), mid (3-5: 0.5-4 kHz), high (6-7: > 4 kHz)
    eq = np.concatenate([np.repeat(regions[:, :1], 3, 1), np.repeat(regions[:, 1:2], 3, 1), np.repeat(regions[:, 2:], 2, 1)], 1)
    return gains, eq


def _relative_loudness(stems):
    import torch
    from mss.features import loudness
    with torch.no_grad():
        lm = float(loudness(sum(stems.values())))
        return {k: float(loudness(v)) - lm for k, v in stems.items()}


def _compact(m):
    "The parts of a run's metrics.json the study needs (the full file is large: 501 iterations)."
    keep = ('optimize_target', 'initial_feature_distance', 'final_feature_distance', 'initial_embedding_distance',
            'final_embedding_distance', 'r_feature', 'r_embedding', 'converged', 'best_step', 'last_step', 'feature_groups',
            'baselines', 'stems', 'output', 'timing_s', 'hyperparameters')
    out = {k: m[k] for k in keep}
    out['curve'] = [{k: e[k] for k in ('step', 'feature_distance', 'embedding_distance')} for e in m['evaluations']]
    out['final_controls'] = m['evaluations'][-1]['controls']
    return out


def _worker(job):
    import torch
    torch.set_num_threads(job['threads'])
    from mss.style import StyleTransfer
    cache = Path(job['cache'])
    sa, sb = torch.load(cache / f"{job['input']}.pt"), torch.load(cache / f"{job['target']}.pt")
    st = StyleTransfer(separator=None)
    t = time.perf_counter()
    r = st.run(None, None, input_stems=sa, target_stems=sb, optimize_target=job['mode'], num_steps=job['steps'],
               static_steps=job['static_steps'], seed=job['seed'], identity_weight=job['identity_weight'])
    rec = dict(job=job, wall_s=round(time.perf_counter() - t, 1), metrics=_compact(r.metrics),
               output_relative_lu=_relative_loudness(r.output_stems))
    Path(job['path']).write_text(json.dumps(rec, indent=1))
    if job.get('full'): Path(job['full']).write_text(json.dumps(r.metrics, indent=1))
    return job['path']


def run(a):
    import torch
    from mss.inference import InferenceEngine
    from mss.mixer import StaticConsole
    from mss.features import MF56_STEMS
    out, cache = Path(a.out), Path(a.out) / 'cache'
    (out / 'runs').mkdir(parents=True, exist_ok=True); cache.mkdir(parents=True, exist_ok=True)
    tracks = _songs(a.songs)
    names = [t.name for t in tracks]
    rng = np.random.default_rng(a.seed)
    pairs = [(i, j) for i in range(len(names)) for j in range(len(names)) if i != j]
    pairs = [pairs[k] for k in rng.permutation(len(pairs))[:a.pairs]]
    engine = None
    def separate(key, mixture):
        nonlocal engine
        if (cache / f'{key}.pt').exists(): return
        if engine is None: engine = InferenceEngine.from_pretrained()
        o = engine.run(mixture).outputs
        torch.save({k: o[k].contiguous() for k in MF56_STEMS}, cache / f'{key}.pt')
    truth = {}
    for t in tracks:
        s = _load(t, a.duration)
        separate(t.name, s['mixture'])
        truth[t.name] = {k: s[k] for k in MF56_STEMS}
    known = []
    for n, (i, j) in enumerate(pairs[:a.known]):
        gains, eq = _known_settings(a.seed + 1000 + n)
        con = StaticConsole(MF56_STEMS).set_settings(gain=torch.tensor(gains, dtype=torch.float32), eq=torch.tensor(eq, dtype=torch.float32))
        with torch.no_grad(): remixed, mix = con({k: v for k, v in truth[names[j]].items()})
        key = f'{names[j]} [known {n}]'
        separate(key, mix)
        known.append(dict(pair=[names[i], names[j]], target_key=key, gains_db=gains.round(3).tolist(), eq_db=eq.round(3).tolist(),
                          target_true_relative_lu=_relative_loudness(truth[names[j]]),
                          remix_true_relative_lu=_relative_loudness(remixed)))
    (out / 'plan.json').write_text(json.dumps(dict(songs=names, pairs=[[names[i], names[j]] for i, j in pairs], known=known,
                                                   args=vars(a)), indent=1))
    jobs = []
    for n, (i, j) in enumerate(pairs):
        for mode in a.modes.split(','):
            jobs.append(dict(input=names[i], target=names[j], mode=mode, kind='pair', index=n))
    for n, k in enumerate(known):
        for mode in a.modes.split(','):
            jobs.append(dict(input=k['pair'][0], target=k['target_key'], mode=mode, kind='known', index=n))
    for jb in jobs:
        jb.update(steps=a.steps, static_steps=a.static_steps if jb['kind'] == 'pair' else 0, seed=a.seed, threads=a.threads,
                  identity_weight=a.identity_weight,
                  cache=str(cache), path=str(out / 'runs' / f"{jb['kind']}{jb['index']:02d}_{jb['mode']}.json"))
        if jb['kind'] == 'pair' and jb['index'] == 0: jb['full'] = str(out / f"example_metrics_{jb['mode']}.json")
    todo = [jb for jb in jobs if not Path(jb['path']).exists()]
    print(f"{len(jobs)} runs, {len(todo)} to do, {a.jobs} worker(s) × {a.threads} thread(s)", flush=True)
    if a.jobs > 1:
        import multiprocessing as mp
        with mp.get_context('spawn').Pool(a.jobs) as pool:
            for p in pool.imap_unordered(_worker, todo): print('done', p, flush=True)
    else:
        for jb in todo: print('done', _worker(jb), flush=True)


def _q(v):
    v = np.asarray(v, float)
    return dict(median=round(float(np.median(v)), 4), q25=round(float(np.percentile(v, 25)), 4),
                q75=round(float(np.percentile(v, 75)), 4), n=len(v))


def summary(a):
    from scipy.stats import wilcoxon
    out = Path(a.out)
    plan = json.loads((out / 'plan.json').read_text())
    runs = {p.stem: json.loads(p.read_text()) for p in sorted((out / 'runs').glob('*.json'))}
    res, lines = {}, []
    for mode in ('features', 'embeddings'):
        rs = [r for k, r in runs.items() if k.startswith('pair') and r['job']['mode'] == mode]
        if not rs: continue
        opt, held = ('feature', 'embedding') if mode == 'features' else ('embedding', 'feature')
        D = lambda r, which, what: r['metrics'][f'final_{what}_distance'] if which == 'tcn' else r['metrics']['baselines'][which][f'{what}_distance']
        row = dict(pairs=len(rs))
        for which in ('tcn', 'global_loudness', 'stem_loudness', 'static_console'):
            if which == 'static_console' and any(r['metrics']['baselines']['static_console'] is None for r in rs): continue
            for what in (opt, held):
                r_ = [1 - D(r, which, what) / r['metrics'][f'initial_{what}_distance'] for r in rs]
                row[f'{which}/r_{what}'] = dict(_q(r_), improved=round(float(np.mean(np.array(r_) > 0)), 3))
        for base in ('stem_loudness', 'static_console', 'global_loudness'):
            if f'{base}/r_{opt}' not in row: continue
            a_, b_ = np.array([D(r, 'tcn', opt) for r in rs]), np.array([D(r, base, opt) for r in rs])
            p = float(wilcoxon(a_, b_, alternative='less').pvalue) if len(rs) >= 6 and np.any(a_ != b_) else float('nan')
            row[f'tcn_beats_{base}'] = dict(fraction=round(float(np.mean(a_ < b_)), 3), wilcoxon_p=p)
        row['converged'] = round(float(np.mean([r['metrics']['converged'] for r in rs])), 3)
        row['seconds_per_step_1_thread'] = _q([r['metrics']['timing_s']['seconds_per_step'] for r in rs])
        row['held_stems'] = sum(not v['matched'] for r in rs for v in r['metrics']['stems'].values())
        res[mode] = row
    # known-style check
    ks = {}
    for mode in ('features', 'embeddings'):
        dt, do, base = [], [], []
        for n, k in enumerate(plan['known']):
            kr, ref = runs.get(f'known{n:02d}_{mode}'), runs.get(f'pair{n:02d}_{mode}')
            if not kr or not ref: continue
            for s in ('vocals', 'bass', 'drums', 'other'):
                if not all(r['metrics']['stems'][s]['matched'] for r in (kr, ref)): continue
                dt.append(k['remix_true_relative_lu'][s] - k['target_true_relative_lu'][s])
                do.append(kr['output_relative_lu'][s] - ref['output_relative_lu'][s])
        if len(dt) >= 3:
            dt, do = np.array(dt), np.array(do)
            ks[mode] = dict(stems=len(dt), correlation=round(float(np.corrcoef(dt, do)[0, 1]), 3),
                            mean_abs_error_db=round(float(np.mean(np.abs(do - dt))), 2),
                            no_change_mean_abs_error_db=round(float(np.mean(np.abs(dt))), 2),
                            slope=round(float(np.polyfit(dt, do, 1)[0]), 3))
    res['known_style'] = ks
    (out / 'summary.json').write_text(json.dumps(res, indent=1))
    f = lambda d: f"{d['median']:.1%} [{d['q25']:.1%}, {d['q75']:.1%}]"
    for mode, row in ((m, res[m]) for m in ('features', 'embeddings') if m in res):
        opt, held = ('feature', 'embedding') if mode == 'features' else ('embedding', 'feature')
        lines += [f"\n**{mode} mode** ({row['pairs']} pairs; r = 1 − D(output, target)/D(input, target); median [IQR], share of pairs with r > 0)\n",
                  f"| mixer | r, optimised ({opt}) | improved | r, held out ({held}) | improved |", "|---|---|---|---|---|"]
        for which in ('tcn', 'static_console', 'stem_loudness', 'global_loudness'):
            if f'{which}/r_{opt}' not in row: continue
            o, h = row[f'{which}/r_{opt}'], row[f'{which}/r_{held}']
            lines.append(f"| {which.replace('_', ' ')} | {f(o)} | {o['improved']:.0%} | {f(h)} | {h['improved']:.0%} |")
        lines.append('')
        for base in ('stem_loudness', 'static_console'):
            if f'tcn_beats_{base}' in row:
                b = row[f'tcn_beats_{base}']
                lines.append(f"- TCN closer to the target than {base.replace('_', ' ')} on the optimised distance: {b['fraction']:.0%} of pairs (one-sided Wilcoxon p = {b['wilcoxon_p']:.2g})")
        lines.append(f"- converged (definition in nb 43): {row['converged']:.0%}; stems held at identity: {row['held_stems']}")
    if ks:
        lines += ["\n**Known-style check** (change of the output's per-stem relative loudness vs the applied change, dB)\n",
                  "| mode | stems | correlation | slope | mean abs error | error of no change |", "|---|---|---|---|---|---|"]
        for mode, k in ks.items():
            lines.append(f"| {mode} | {k['stems']} | {k['correlation']:.2f} | {k['slope']:.2f} | {k['mean_abs_error_db']:.2f} | {k['no_change_mean_abs_error_db']:.2f} |")
    (out / 'summary.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('cmd', choices=['run', 'summary'])
    p.add_argument('--songs'); p.add_argument('--out', required=True)
    p.add_argument('--pairs', type=int, default=20); p.add_argument('--known', type=int, default=6)
    p.add_argument('--steps', type=int, default=500); p.add_argument('--static-steps', type=int, default=100)
    p.add_argument('--duration', type=float, default=10.0); p.add_argument('--seed', type=int, default=2026)
    p.add_argument('--jobs', type=int, default=2); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--modes', default='features,embeddings'); p.add_argument('--identity-weight', type=float, default=0.0)
    a = p.parse_args()
    (run if a.cmd == 'run' else summary)(a)

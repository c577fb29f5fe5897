"""Does a mixing-style representation see each mixing control? (issue 14; `specs/mixing.md` §11)

For a style encoder (or MF-56), on generated songs whose titles no encoder was trained on:
- per control (4 stem gains, 12 EQ bands, 4 side gains, 4 balances, master gain): the sensitivity ratio = distance(song,
  song with that one control moved by ±6 dB) ÷ median distance(two different songs under the same setting);
- the gain curve (1.5 … 12 dB) and whether it is monotone;
- ridge probes from the representation to every control, R² on other titles (stems level-normalised);
- held-out retrieval (mean of 5 draws of 12 songs × 12 settings), as in bench/mixing.py.

Run (each space is stored under its name in OUT, so spaces can be run one at a time):
  python bench/encoder_sensitivity.py run --space features --space old=PATH --space new=PATH \
      --root /work/data/gen200/train --titles bench/encoder_heldout_titles.txt --out bench/results/encoder/sensitivity.json
  python bench/encoder_sensitivity.py summary --out bench/results/encoder/sensitivity.json [--md bench/results/encoder/summary.md]
The titles file's first section (the test titles of `mss-make-dataset --n_train 32 --n_test 8 --seed 0`) was held out
of both the first shipped encoder and the retrained one; the second section (the separator's test titles) only of the
retrained one, so it is scored as a second check on the retrained encoder and MF-56 only (`--section 2`).
"""
import argparse, json, os, statistics, tempfile, time
from pathlib import Path
import torch

def titles(path, section):
    "Titles of one numbered section (`# 1.`, `# 2.`) of the held-out titles file."
    out, cur = [], 0
    for line in Path(path).read_text().splitlines():
        if line.startswith('# ') and line[2:3].isdigit(): cur = int(line[2]); continue
        if line.strip() and not line.startswith('#') and cur == section: out.append(line.strip())
    return out

def tracks(root, names, parts):
    "Track folders of each title: the title itself, then `(part 2)`, … up to `parts`."
    out = []
    for t in names:
        for p in range(1, parts + 1):
            d = Path(root) / (t if p == 1 else f'{t} (part {p})')
            if d.is_dir(): out.append(d)
    return out

def load(d, offset, seconds, sr=44100):
    from mss.audio import load_audio
    from mss.features import MF56_STEMS
    return {k: load_audio(d / f'{k}.wav', sr, 2, offset, seconds)[0] for k in MF56_STEMS}

def space_of(spec):
    "features (MF-56), levels (the level pathway's 60 hand-made numbers, no learning) or NAME=CHECKPOINT."
    from mss.encoder import MixingStyleEncoder, _check_stems
    name, _, path = spec.partition('=')
    if name == 'features': return name, 'features'
    if name == 'levels':
        lv = MixingStyleEncoder(levels=(250., 4000.)).eval()
        def levels(stems): h = lv.frontend(_check_stems(stems, lv.stems)); return lv.level_summary(h).reshape(h.shape[0] // 5, -1)
        return name, levels
    return name, MixingStyleEncoder.from_pretrained(path or None)

def run(a):
    torch.set_num_threads(a.threads)
    from mss.encoder import control_sensitivity, control_probes, retrieval_accuracy, FolderSongs
    names = titles(a.titles, a.section)
    part1 = tracks(a.root, names, 1)
    if len(part1) < 4: raise SystemExit(f"{a.root}: found only {len(part1)} of the {len(names)} held-out titles")
    sens_songs = [load(d, a.offset, a.seconds) for d in part1]
    half = len(names) // 2
    probe_tr = [load(d, a.offset, a.seconds) for d in tracks(a.root, names[:half], 2)]
    probe_te = [load(d, a.offset, a.seconds) for d in tracks(a.root, names[half:], 2)]
    res = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    key = lambda n: n if a.section == 1 else f'{n} (section {a.section})'
    with tempfile.TemporaryDirectory() as tmp:  # the held-out tracks as a MUSDB18-layout folder for FolderSongs
        for d in tracks(a.root, names, 5): os.symlink(d.resolve(), Path(tmp) / d.name)
        for spec in a.space:
            name, space = space_of(spec)
            entry = res.get(key(name), {})
            entry.update(spec=spec, seconds=a.seconds, offset=a.offset, titles=names, sensitivity_tracks=[d.name for d in part1])
            timing = entry.setdefault('timing_s', {})
            t0 = time.perf_counter()
            if 'sensitivity' in a.parts:
                entry['sensitivity'] = control_sensitivity(space, sens_songs, a.delta, seed=a.seed); timing['sensitivity'] = time.perf_counter() - t0
            t1 = time.perf_counter()
            if 'probes' in a.parts:
                entry['probes'] = control_probes(space, probe_tr, probe_te, per_song=a.per_song, seed=a.seed); timing['probes'] = time.perf_counter() - t1
            t2 = time.perf_counter()
            entry['load_average'] = os.getloadavg()[0]
            if name not in ('features', 'levels') and 'retrieval' in a.parts:
                rs = [retrieval_accuracy(space, FolderSongs(tmp, a.seconds), n=12, seed=7 + i) for i in range(5)]
                entry['retrieval'] = {k: statistics.mean(r[k] for r in rs) for k in ('pair_accuracy', 'same_song_accuracy', 'top1', 'chance_top1')}
            res[key(name)] = entry
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(json.dumps(res, indent=1))
            print(f"{key(name)}: {t1 - t0:.0f} s sensitivity, {t2 - t1:.0f} s probes", flush=True)

GROUPS = [('stem gain', '.gain_db'), ('EQ low', '.eq_low_db'), ('EQ mid', '.eq_mid_db'), ('EQ high', '.eq_high_db'),
          ('side gain', '.side_db'), ('balance', '.balance_db'), ('master gain', 'master_db')]

def summary(a):
    res = json.loads(Path(a.out).read_text())
    spaces = [k for k in res]
    def per(k, field):
        e = res[k]; names = e['sensitivity']['controls'] if field == 'ratio' else e['probes']['controls']
        vals = e['sensitivity']['ratio'] if field == 'ratio' else e['probes']['r2']
        return dict(zip(names, vals))
    lines = []
    for sec in sorted({1 if '(section' not in k else int(k.split('section ')[1][0]) for k in spaces}):
        ks = [k for k in spaces if (('(section' not in k) if sec == 1 else f'(section {sec})' in k)]
        feat = next(k for k in ks if k.startswith('features'))
        encs = [k for k in ks if k != feat and not k.startswith('levels')] + [k for k in ks if k.startswith('levels')]
        lines += [f"### Held-out titles, section {sec} ({len(res[feat]['sensitivity_tracks'])} songs for sensitivity, "
                  f"{res[feat]['probes']['train_songs']} + {res[feat]['probes']['test_songs']} for the probes, {res[feat]['seconds']:g} s)", "",
                  "Sensitivity ratio (median over songs and ±6 dB; per stem, the median of the four stems) and probe R² (mean over stems):", "",
                  "| control | " + " | ".join(f"ratio {k}" for k in [feat] + encs) + " | " + " | ".join(f"R² {k}" for k in [feat] + encs) + " |",
                  "|---" * (1 + 2 * (1 + len(encs))) + "|"]
        for g, suf in GROUPS:
            row = [g]
            for field in ('ratio', 'r2'):
                for k in [feat] + encs:
                    d = per(k, field); v = [x for n, x in d.items() if n.endswith(suf)]
                    v = [x for x in v if x == x]  # R² of a control whose stem is silent in every test song: NaN, left out
                    row.append(f"{statistics.median(v) if field == 'ratio' else statistics.mean(v):.3g}" if v else "—")
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", "| encoder | controls at or above MF-56's ratio (of 25) | smallest ratio ÷ MF-56's | gain and EQ controls with R² ≥ 0.8 (of 16) | gain curves monotone | cross-song distance | retrieval pair / same-song / top-1 |",
                  "|---|---|---|---|---|---|---|"]
        fr = per(feat, 'ratio')
        for k in [feat] + encs:
            r, q = per(k, 'ratio'), per(k, 'r2')
            rel = {n: r[n] / fr[n] for n in fr}
            worst = min(rel, key=rel.get)
            gq = [q[n] for n in q if (n.endswith('.gain_db') or '.eq_' in n) and q[n] == q[n]]
            ret = res[k].get('retrieval')
            lines.append(f"| {k} | {sum(v >= 1 for v in rel.values())} | {rel[worst]:.3g} ({worst}) | {sum(x >= 0.8 for x in gq)} (min {min(gq):.2f}) | "
                         f"{res[k]['sensitivity']['monotone_fraction']:.2f} | {res[k]['sensitivity']['cross_median']:.3g} | "
                         + (f"{ret['pair_accuracy']:.3f} / {ret['same_song_accuracy']:.3f} / {ret['top1']:.3f} |" if ret else "— |"))
        lines += [""]
    text = "\n".join(lines)
    print(text)
    if a.md: Path(a.md).write_text(text + "\n")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('cmd', choices=['run', 'summary'])
    p.add_argument('--space', action='append', default=[], help='features, or NAME=CHECKPOINT (NAME= alone: the shipped encoder)')
    p.add_argument('--root', default='/work/data/gen200/train', help='folder of generated track folders')
    p.add_argument('--titles', default='bench/encoder_heldout_titles.txt')
    p.add_argument('--section', type=int, default=1)
    p.add_argument('--seconds', type=float, default=10.0)
    p.add_argument('--offset', type=float, default=10.0)
    p.add_argument('--delta', type=float, default=6.0)
    p.add_argument('--per-song', type=int, default=24)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--out', default='bench/results/encoder/sensitivity.json')
    p.add_argument('--md', default=None)
    p.add_argument('--parts', default='sensitivity,probes,retrieval', help='comma-separated: what to (re)measure')
    a = p.parse_args()
    a.parts = a.parts.split(',')
    run(a) if a.cmd == 'run' else summary(a)

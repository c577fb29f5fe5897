"""Package a trained run as the shipped separator (issue 12): weights, config, info.json and MODEL_CARD.md under
`mss/assets/separator/`, every number of the card read from the run and evaluation folders given here.

    python bench/ship_separator.py --run sep_run --data sep_data \
        --eval eval_sep --mixture eval_sep_mix --irm eval_sep_irm \
        --extra "10 new 30-s renderings of the test songs (seed 7)|eval_h7|eval_h7_mix" \
        --speed bench/results/separator/speed.json --wall "1 h 52 min" --machine "2-core CPU (shared), no GPU"
"""
import argparse, json, math
from pathlib import Path

import torch
import yaml

from mss.audio import STEMS
from mss.checkpoint import unwrap_state_dict
from mss.models import count_params, load_msst_model

OUT = Path(__file__).resolve().parents[1] / 'mss' / 'assets' / 'separator'


def _summary(folder, what='mean'):
    if folder is None: return None
    s = json.loads((Path(folder) / 'summary.json').read_text())
    return {'tracks': s['tracks'],
            'uSDR': {k: s['stems'][k]['uSDR'][what] for k in STEMS},
            'SDR': {k: s['stems'][k]['SDR']['median'] for k in STEMS}}


def _mean(d): return sum(d.values()) / len(d)


def _f(v): return '—' if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _table(model, mix, irm=None):
    cols = ['stem', 'mixture uSDR', '**separator uSDR**'] + (['IRM uSDR'] if irm else []) + \
           ['mixture SDR', '**separator SDR**'] + (['IRM SDR'] if irm else [])
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for k in list(STEMS) + ['mean']:
        g = (lambda d, m: _mean(d[m]) if k == 'mean' else d[m][k])
        cells = [_f(g(mix, 'uSDR')), f"**{_f(g(model, 'uSDR'))}**"] + ([_f(g(irm, 'uSDR'))] if irm else []) + \
                [_f(g(mix, 'SDR')), f"**{_f(g(model, 'SDR'))}**"] + ([_f(g(irm, 'SDR'))] if irm else [])
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(a):
    run, data = Path(a.run), Path(a.data)
    cfg = yaml.safe_load((run / 'config.yaml').read_text())
    ckpt = torch.load(run / f'{a.which}.ckpt', map_location='cpu', weights_only=True)
    plan = torch.load(run / 'last.ckpt', map_location='cpu', weights_only=True)['train_state']['steps']
    cfg.setdefault('trainer', {})['steps'] = cfg['training']['num_steps'] = int(plan)  # the plan the run ended with (--steps)
    state = {k: v.detach().float().contiguous().clone() for k, v in unwrap_state_dict(ckpt).items()}
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT / 'weights.pt')
    (OUT / 'config.yaml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    model = load_msst_model(OUT / 'config.yaml', OUT / 'weights.pt')  # loads back, strict
    meta = json.loads((data / 'metadata.json').read_text())
    split = meta['resplit']
    log = [json.loads(l) for l in (run / 'log.jsonl').read_text().splitlines() if l.strip()]
    valid = list({r['step']: r for r in log if r.get('kind') == 'valid'}.values())  # a resumed run may log a step twice
    times = [r['time'] for r in log if 'time' in r]
    wall = a.wall if a.wall != '?' else f"{(max(times) - min(times)) / 3600:.2f} h (from the first to the last line of log.jsonl)"
    test, mix, irm = _summary(a.eval), _summary(a.mixture), _summary(a.irm)
    extra = [{'name': name, 'test': _summary(ev), 'mixture': _summary(mx)} for name, ev, mx in (e.split('|') for e in a.extra or [])]
    info = {'name': a.name, 'model_type': ckpt.get('model_type', 'scnet'), 'stems': list(model.stems),
            'sample_rate': cfg['audio']['sample_rate'], 'params': count_params(model),
            'weights_bytes': (OUT / 'weights.pt').stat().st_size,
            'checkpoint': {'which': a.which, 'step': ckpt.get('step'), 'best_metric': ckpt.get('best_metric')},
            'training': {'steps': cfg.get('trainer', {}).get('steps'), 'wall': wall, 'machine': a.machine, 'history': a.history,
                         'train_tracks': split['n_train'], 'valid_tracks': split['n_valid'],
                         'train_songs': split['train_songs'], 'valid_songs': split['valid_songs'],
                         'generator_seed': meta['seed']},
            'test_songs': split['test_songs'],
            'test': test, 'mixture': mix, 'irm': irm, 'extra': extra,
            'speed': json.loads(Path(a.speed).read_text()) if a.speed else None,
            'validation_curve': [{'step': r['step'], 'uSDR': r.get('usdr'), **{s: r.get(f'usdr/{s}') for s in STEMS}} for r in valid]}
    (OUT / 'info.json').write_text(json.dumps(info, indent=1))
    (OUT / 'MODEL_CARD.md').write_text(card(info, cfg, meta))
    print(f"wrote {OUT}: {info['params']} parameters, {info['weights_bytes'] / 1e6:.1f} MB")


def card(info, cfg, meta):
    t, m = cfg['training'], cfg['model']
    lines = [f"# Model card: `{info['name']}`, the separator shipped with mss", "",
             "A 4-stem music source separator (vocals, drums, bass, other; 44.1 kHz stereo), a masked SCNet "
             f"(`mss.models.scnet.SCNetMasked`: complex masks on the mixture's STFT, so silence in gives silence out; dims "
             f"{m.get('dims')}, {m.get('num_dplayer')} dual-path layers, a {m.get('mask_channels', 64)}-channel mask head, "
             f"{info['params'] / 1e6:.2f} M parameters, {info['weights_bytes'] / 1e6:.1f} MB of float32 weights) trained "
             "by this project on songs made by its own generator. It is the default of `mss-separate`, "
             "`mss-evaluate` and `InferenceEngine.from_pretrained()`.", "",
             "**What it is for.** Demos, tests and a first look at the library's jobs on a machine without "
             "downloads. It was trained on a CPU for a couple of hours on synthetic songs (General MIDI "
             "soundfonts, a formant-synthesised singer): expect it to work on songs like those and to do much "
             "worse on commercial recordings, which it has never heard. For real music, train on MUSDB18-HQ "
             "with `mss-train` or load an MSST checkpoint (`mss-separate --config … --checkpoint …`).", "",
             "## Data", "",
             f"- Songs: the MIDI files of the Debian packages `openttd-openmsx` (OpenMSX, GPL-2.0-only) and "
             f"`planetblupi-music-midi` (GPL-3.0-or-later), rendered with `fluidsynth` through the soundfonts "
             f"{', '.join(sorted({s['name'] + ' (' + s['licence'] + ')' for s in meta['soundfonts']}))}; "
             "vocals sung by espeak-ng + WORLD (see `nbs/04_synth.ipynb`).",
             f"- `mss-make-dataset --root gen200 --n-train 200 --n-test 10 --n-valid 10 --duration 30 --seed {meta['seed']}`, "
             "then re-split by song with `python bench/separator_data.py --src gen200 --dst sep_data` "
             f"(seed {meta['resplit']['seed']}): **{info['training']['train_tracks']} training tracks from "
             f"{len(info['training']['train_songs'])} songs**, {info['training']['valid_tracks']} validation tracks "
             f"from {len(info['training']['valid_songs'])} other songs, and a test set of {meta['resplit']['n_test']} "
             f"tracks (at most {meta['resplit']['per_song']} windows per song) from **{len(info['test_songs'])} songs "
             "that have no track in training or validation** (the script asserts it).",
             f"- Held-out test songs: {', '.join(info['test_songs'])}.",
             f"- Validation songs: {', '.join(info['training']['valid_songs'])}.", "",
             "## Training", "",
             "- Command: `mss-train --config bench/separator.yaml --data-root sep_data --out sep_run` "
             "(the recipe is `config.yaml` beside this card; `--resume` continues a stopped run exactly).",
             f"- {info['training']['steps']} AdamW steps, batch {t['batch_size']} × {cfg['audio']['chunk_size'] / cfg['audio']['sample_rate']:g}-s "
             f"stereo chunks remixed across tracks, lr {t['lr']} with {t.get('num_warmup_steps')} warm-up steps and "
             f"cosine decay, loss {' + '.join(f'{w:g}·{l}' for l, w in zip(t['loss'], t['loss_weights']))}, "
             f"EMA {t.get('ema_momentum')} (the shipped weights are the EMA weights of the "
             f"{info['checkpoint']['which']} checkpoint, step {info['checkpoint']['step']}).",
             f"- Wall time {info['training']['wall']} on {info['training']['machine']}."]
    if info['training'].get('history'): lines += [f"- How the run actually went: {info['training']['history']}"]
    lines += [""]
    if info['validation_curve']:
        vc = info['validation_curve']
        lines += ["Validation uSDR (dB) of the EMA weights on deterministic 3-s chunks of the validation songs "
                  "(`log.jsonl`; best.ckpt is the best mean):", "",
                  "| step | " + " | ".join(str(r['step']) for r in vc) + " |",
                  "|---|" + "---|" * len(vc)]
        lines += ["| " + k + " | " + " | ".join(_f(r[k]) for r in vc) + " |" for k in list(STEMS)]
        lines += ["| mean | " + " | ".join(_f(r['uSDR']) for r in vc) + " |", ""]
    if info['test']:
        lines += ["## How good, measured", "",
                  f"On the held-out test set ({info['test']['tracks']} full 30-s tracks of songs never seen in training), "
                  "scored with `mss-evaluate` (uSDR: mean over tracks; SDR: BSSEval v4, median over 1-s windows, "
                  "then median over tracks), beside the mixture baseline (the mixture as every estimate) and the "
                  "ideal-ratio-mask bound:", "", _table(info['test'], info['mixture'], info['irm']), "",
                  f"Mean over stems: {_mean(info['test']['uSDR']) - _mean(info['mixture']['uSDR']):+.2f} dB uSDR over the mixture baseline.", ""]
    for e in info['extra']:
        lines += [f"Again, on data used for nothing else: {e['name']} ({e['test']['tracks']} tracks):", "",
                  _table(e['test'], e['mixture']), "",
                  f"Mean over stems: {_mean(e['test']['uSDR']) - _mean(e['mixture']['uSDR']):+.2f} dB uSDR over the mixture baseline.", ""]
    if info['speed']:
        s = info['speed']
        lines += ["## Speed and memory", "",
                  f"A {s['seconds'] / 60:g}-minute stereo song through `mss-separate` on {s['machine']}, "
                  f"{s['threads']} threads: **{s['s_per_min']:.1f} s per minute of audio** for the whole command (start-up, "
                  f"reading, separating, writing four stems; {s['separation_only_s_per_min']:.1f} s for the separation alone), "
                  f"peak memory **{s['peak_rss_mb']:.0f} MB** (resident set of the whole process). Command: "
                  f"`python bench/separator_speed.py --threads {s['threads']}` (which runs `{s['command']}`).", ""]
    lines += ["## Limits", "",
              "- Never trained or tested on real recordings: no MUSDB18 or other real multitrack could be downloaded here.",
              "- The generator's songs are General-MIDI arrangements with one synthetic singer; real vocals, "
              "distorted guitars, dense mixes and mastering are out of its distribution.",
              "- Small on purpose (CPU training budget): the gap to the ideal-ratio-mask bound above is what more "
              "capacity, data and steps would close.", "",
              "## Licence", "",
              "The weights are released with the package (Apache-2.0). They were trained on audio rendered from "
              "GPL-licensed MIDI files and soundfonts; the rendered data set itself is not redistributed.", ""]
    return "\n".join(lines)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--run', required=True); p.add_argument('--data', required=True)
    p.add_argument('--which', default='best', choices=['best', 'last'])
    p.add_argument('--name', default='scnet-synth')
    for k in ('eval', 'mixture', 'irm', 'speed'): p.add_argument(f'--{k}')
    p.add_argument('--extra', action='append', help="another held-out set: 'description|EVAL_DIR|MIXTURE_EVAL_DIR'")
    p.add_argument('--wall', default='?'); p.add_argument('--machine', default='?'); p.add_argument('--history')
    main(p.parse_args())

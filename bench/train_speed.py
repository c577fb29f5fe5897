"""Training throughput of `mss.train.fit` on the CPU: one process vs two `torchrun` ranks at the same global batch.

Two configs (MSST-style dicts, L1 loss, AdamW, fp32, random init, no validation, no files):
- `scnet_small`: MSST's SCNet small model block (10.6 M parameters) at 44.1 kHz, 1-s chunks (the shipped 11-s chunk is
  too slow for a 2-core benchmark), global batch 4;
- `tiny`: a 17.6 k-parameter SCNet at 8 kHz, 0.5-s chunks, global batch 8 (the test configuration).

Each (config, mode) runs in a fresh process: `1 proc` = one process with `--threads` threads and the whole global
batch (`1 proc, 1 thread`: the same with one thread, as a control); `2 ranks` = `torchrun --standalone --nproc_per_node 2` (gloo), `OMP_NUM_THREADS=1` per rank, half the batch
each. The first step (warm-up) is excluded; steps/s and examples/s are medians over the remaining steps' wall times
(`StepCompleted.metrics['examples_per_s']`, data loading included). The data is a generated toy MUSDB folder.

    python bench/train_speed.py --steps 4 --threads 2 --out bench/results/train_speed.json
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCNET_SMALL_MODEL = {'sources': ['drums', 'bass', 'other', 'vocals'], 'audio_channels': 2, 'dims': [4, 32, 64, 128], 'nfft': 4096,
                     'hop_size': 1024, 'win_size': 4096, 'normalized': True, 'band_SR': [0.175, 0.392, 0.433], 'band_stride': [1, 4, 16],
                     'band_kernel': [3, 4, 16], 'conv_depths': [3, 2, 1], 'compress': 4, 'conv_kernel': 3, 'num_dplayer': 6, 'expand': 1}
TINY_MODEL = {'dims': [4, 8], 'num_dplayer': 2, 'nfft': 256, 'hop_size': 64, 'win_size': 256,
              'band_stride': [1, 4, 4], 'band_kernel': [3, 4, 4], 'conv_depths': [1, 1, 1]}
CONFIGS = {'scnet_small': dict(model=SCNET_SMALL_MODEL, sr=44100, chunk=44100, batch=4),
           'tiny': dict(model=TINY_MODEL, sr=8000, chunk=4000, batch=8)}

def config(name:str, world:int)->dict:
    c = CONFIGS[name]
    return {'audio': {'chunk_size': c['chunk'], 'sample_rate': c['sr'], 'num_channels': 2}, 'model': c['model'],
            'training': {'instruments': ['drums', 'bass', 'other', 'vocals'], 'batch_size': c['batch'] // world, 'lr': 1e-4,
                         'num_epochs': 1, 'num_steps': 1000, 'loss': 'l1_loss', 'optimizer': 'adamw', 'model_type': 'scnet', 'use_amp': False},
            'inference': {'batch_size': 4, 'num_overlap': 2}, 'trainer': {'validate_every': 0, 'log_every': 1000}}

def worker(name:str, data:str, steps:int, threads:int):
    import torch
    from mss.events import StepCompleted
    from mss.models import count_params
    from mss.train import SeparationTask, fit
    if threads: torch.set_num_threads(threads)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    task = SeparationTask.from_config(config(name, world))
    ev = []
    fit(task, task.train_data(data, world), None, None, device='cpu', steps=steps, callback=ev.append)
    eps = [e.metrics['examples_per_s'] for e in ev if isinstance(e, StepCompleted)][1:]
    if int(os.environ.get('RANK', '0')) == 0:
        g = CONFIGS[name]['batch']
        print('RESULT ' + json.dumps({'config': name, 'world': world, 'threads': torch.get_num_threads(), 'params': count_params(task.model),
                                      'global_batch': g, 'steps_timed': len(eps), 'examples_per_s': statistics.median(eps),
                                      'steps_per_s': statistics.median(eps) / g, 'step_s': [round(g / x, 3) for x in eps]}), flush=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=4, help='steps per run (the first is not timed)')
    ap.add_argument('--threads', type=int, default=2, help='torch threads of the single process')
    ap.add_argument('--configs', default='tiny,scnet_small')
    ap.add_argument('--out', default=None, help='JSON file for the results')
    ap.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--data', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker: return worker(a.worker, a.data, a.steps, a.threads)
    from mss.train import toy_musdb
    import torch
    tmp = Path(tempfile.mkdtemp())
    data = {sr: toy_musdb(tmp / f'toy{sr}', n_train=4, n_test=0, seconds=4.0, sample_rate=sr) for sr in {c['sr'] for c in CONFIGS.values()}}
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    rows = []
    for name in a.configs.split(','):
        d = str(data[CONFIGS[name]['sr']])
        runs = {'1 proc': ([sys.executable, __file__], {**env, 'OMP_NUM_THREADS': str(a.threads)}, a.threads),
                '1 proc, 1 thread': ([sys.executable, __file__], {**env, 'OMP_NUM_THREADS': '1'}, 1),
                '2 ranks': ([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', __file__],
                            {**env, 'OMP_NUM_THREADS': '1'}, 1)}
        for mode, (cmd, e, th) in runs.items():
            t0 = time.time()
            r = subprocess.run(cmd + ['--worker', name, '--data', d, '--steps', str(a.steps), '--threads', str(th)], env=e, capture_output=True, text=True)
            line = [l for l in r.stdout.splitlines() if l.startswith('RESULT ')]
            if r.returncode or not line: sys.exit(f"{name} {mode} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
            res = {**json.loads(line[0][7:]), 'mode': mode, 'wall_s': round(time.time() - t0, 1)}
            rows.append(res); print(json.dumps(res), flush=True)
    head = {'torch': torch.__version__, 'python': platform.python_version(), 'cpus': os.cpu_count(), 'load_avg': os.getloadavg(),
            'steps': a.steps, 'command': 'python bench/train_speed.py ' + ' '.join(sys.argv[1:])}
    print('\n| config | params | global batch | mode | threads/rank | steps/s | examples/s | step times (s) |\n|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['config']} | {r['params']:,} | {r['global_batch']} | {r['mode']} | {r['threads']} | {r['steps_per_s']:.3g} | {r['examples_per_s']:.3g} | {', '.join(map(str, r['step_s']))} |")
    print(json.dumps(head))
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps({'meta': head, 'rows': rows}, indent=1) + '\n')

if __name__ == '__main__':
    main()

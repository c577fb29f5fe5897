"""Step time and peak memory of the SaShiMi heads on the design's clip (issue 17): the design's stereo model
(`sashimi_musdb18stereo.yaml`: d_model 64, 8 layers, pool [4, 4]) on one 12,288-sample stereo clip (batch 1), with
  - the 16-bit categorical head (65,536 classes per channel; loss chunked over time by `token_stats`),
  - the 8-bit mu-law categorical head (256 classes),
  - the 16-bit DML head (10 logistics per channel).
Each configuration runs in a fresh process (so `ru_maxrss` is its own peak): one warm-up step, then `--steps` timed
AdamW steps (forward, loss, backward, update) on random tokens.

    python bench/sashimi_heads.py --threads 2 --steps 3 --out bench/results/sashimi_heads.json
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

CASES = {'categorical-16bit': dict(bits=16, head='categorical'),
         'categorical-8bit': dict(bits=8, head='categorical'),
         'dml-16bit': dict(bits=16, head='dml')}


def one(case, steps, threads, T):
    import torch
    torch.set_num_threads(threads)
    from mss.quantized import config_dir
    from mss.models.sashimi import Sashimi, sashimi_config_from, token_stats
    from mss.sashimi_train import train_config
    from mss.models import count_params
    cfg = sashimi_config_from(config_dir() / 'sashimi_musdb18stereo.yaml', **CASES[case])
    tc = train_config(config_dir() / 'sashimi_musdb18stereo.yaml')
    torch.manual_seed(0)
    m = Sashimi(cfg)
    opt = torch.optim.AdamW(m.parameters(), lr=tc.lr)
    x = torch.randint(0, 1 << cfg.bits, (1, T, 2)); y = torch.randint(0, 1 << cfg.bits, (1, T, 2))
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        nll, mask, _ = token_stats(m, x, y, tc.topk if cfg.head == 'categorical' else ())
        loss = nll.sum() / mask.sum()
        opt.zero_grad(); loss.backward(); opt.step()
        if i: times.append(time.perf_counter() - t)
    return {'case': case, 'params': count_params(m), 'step_s': sum(times) / len(times), 'steps': steps,
            'loss_at_init': float(loss), 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'threads': threads, 'T': T, 'torch': torch.__version__}


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--case'); p.add_argument('--steps', type=int, default=3); p.add_argument('--threads', type=int, default=2)
    p.add_argument('--T', type=int, default=12288); p.add_argument('--out')
    a = p.parse_args()
    if a.case: print(json.dumps(one(a.case, a.steps, a.threads, a.T))); sys.exit()
    res = []
    for case in CASES:
        env = {**os.environ, 'OMP_NUM_THREADS': str(a.threads)}
        r = subprocess.run([sys.executable, __file__, '--case', case, '--steps', str(a.steps), '--threads', str(a.threads),
                            '--T', str(a.T)], capture_output=True, text=True, env=env)
        if r.returncode: sys.exit(r.stderr)
        res.append(json.loads(r.stdout.strip().splitlines()[-1])); print(json.dumps(res[-1]), flush=True)
    full_logits_gb = a.T * 2 * 65536 * 4 / 1e9
    out = {'results': res, 'unchunked_16bit_logits_gb': full_logits_gb,
           'command': f"python bench/sashimi_heads.py --threads {a.threads} --steps {a.steps}"}
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=1) + '\n')

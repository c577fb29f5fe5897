"""Throughput and latency of `mss-serve` under concurrent clients (issue 16 §3).

Starts the installed `mss-serve` (the shipped separator by default, or `--config C --random-weights`) on 127.0.0.1
with `--threads` torch threads, sends one warm-up job, then for each client count C in `--clients` sends `--requests`
uploads of a `--seconds`-long stereo 44.1 kHz song from C concurrent clients (each client: POST /separate, then wait
for the job's `JobFinished` message on its WebSocket, then the next request). Latency is measured per request from
the start of the POST to the `JobFinished` message; the server's own timestamps split it into the wait in the queue
and the separation itself. Writes JSON and prints a markdown table.

    python bench/serve_load.py --requests 20 --seconds 2 --clients 1,4,20 --threads 2 \
        --out bench/results/serve/scnet-synth.json
"""
import argparse, io, json, os, platform, shutil, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from websockets.sync.client import connect


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def song_bytes(seconds, sr=44100, seed=0):
    "A 16-bit stereo WAV: two tones and noise (the separator's speed does not depend on the content)."
    t = np.arange(round(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1) + 0.05 * rng.standard_normal((len(t), 2))
    b = io.BytesIO(); sf.write(b, x.astype('float32'), sr, format='WAV', subtype='PCM_16'); return b.getvalue()


def one_request(base, port, data, name):
    "POST one file and wait for its final WebSocket message; timings (s, perf_counter) and the server's timestamps."
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, timeout=600) as c:
        r = c.post('/separate', files=[('file', (name, data, 'audio/wav'))])
    r.raise_for_status()
    (job,) = r.json()['jobs']
    t_posted = time.perf_counter()
    with connect(f"ws://127.0.0.1:{port}{job['events_url']}", open_timeout=60) as ws:
        final = [json.loads(m) for m in ws][-1]
    t_done = time.perf_counter()
    if final.get('state') != 'done': raise RuntimeError(f"job {job['id']} ended {final.get('state')}: {final.get('error')}")
    return {'id': job['id'], 't0': t0, 'posted': t_posted - t0, 'latency': t_done - t0, 't_done': t_done,
            'queue_wait': final['started'] - final['created'], 'separate': final['finished'] - final['started']}


def run_level(base, port, data, n, clients):
    "n requests from `clients` concurrent clients."
    todo, lock, results, errors = list(range(n)), threading.Lock(), [], []
    def client():
        while True:
            with lock:
                if not todo: return
                i = todo.pop(0)
            try: results.append(one_request(base, port, data, f'bench {i}.wav'))
            except Exception as e: errors.append(repr(e))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - t0
    if errors: raise SystemExit(f'{len(errors)} request(s) failed: {errors[:3]}')
    if len({r['id'] for r in results}) != n: raise SystemExit('jobs were lost or duplicated')
    lat = np.array([r['latency'] for r in results])
    return {'clients': clients, 'requests': n, 'wall_s': wall, 'jobs_per_s': n / wall,
            'latency_s': {'p50': float(np.percentile(lat, 50)), 'p95': float(np.percentile(lat, 95)), 'max': float(lat.max()), 'min': float(lat.min())},
            'post_s_p50': float(np.median([r['posted'] for r in results])),
            'queue_wait_s_p50': float(np.median([r['queue_wait'] for r in results])),
            'separate_s_mean': float(np.mean([r['separate'] for r in results]))}


def main(a):
    exe = shutil.which('mss-serve')
    if exe is None: sys.exit('mss-serve is not installed (pip install -e ".[serve]")')
    port = free_port(); base = f'http://127.0.0.1:{port}'
    model_args = ['--config', a.config, '--random-weights'] if a.config else ['--model', a.model]
    env = {**os.environ, 'OMP_NUM_THREADS': str(a.threads), 'MKL_NUM_THREADS': str(a.threads)}
    cmd = [exe, *model_args, '--port', str(port), '--max-upload-mb', '64']
    log = tempfile.TemporaryFile('w+')  # the server's stderr, shown if it fails to start
    proc = subprocess.Popen(cmd, stderr=log, stdout=subprocess.DEVNULL, env=env)
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None: log.seek(0); sys.exit(f'mss-serve exited with {proc.returncode}:\n{log.read()}')
            try: health = httpx.get(f'{base}/health', timeout=5).json(); break
            except httpx.TransportError:
                if time.monotonic() - t0 > 120: sys.exit('mss-serve did not start')
                time.sleep(0.2)
        startup = time.monotonic() - t0
        data = song_bytes(a.seconds)
        one_request(base, port, data, 'warm-up.wav')
        levels = []
        for c in [int(v) for v in a.clients.split(',')]:
            lv = run_level(base, port, data, a.requests, c)
            lv['audio_s_per_s'] = lv['jobs_per_s'] * a.seconds
            levels.append(lv)
    finally:
        proc.terminate()
        try: proc.wait(30)
        except subprocess.TimeoutExpired: proc.kill()
    import torch, fastapi, uvicorn
    res = {'model': health['model'], 'separator': a.config or a.model, 'stems': health['stems'], 'seconds_per_request': a.seconds,
           'server_threads': a.threads, 'startup_s': startup, 'levels': levels,
           'versions': {'python': platform.python_version(), 'torch': torch.__version__, 'fastapi': fastapi.__version__, 'uvicorn': uvicorn.__version__},
           'machine': a.machine,
           'command': f"python bench/serve_load.py --requests {a.requests} --seconds {a.seconds:g} --clients {a.clients} --threads {a.threads}"
                      + (f" --config {a.config}" if a.config else f" --model {a.model}")}
    rows = ['| clients | requests | jobs/s | audio s/s | latency p50 (s) | p95 (s) | max (s) | queue wait p50 (s) | separation per job (s) |',
            '|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for lv in levels:
        L = lv['latency_s']
        rows.append(f"| {lv['clients']} | {lv['requests']} | {lv['jobs_per_s']:.2f} | {lv['audio_s_per_s']:.2f} | {L['p50']:.2f} | {L['p95']:.2f} | "
                    f"{L['max']:.2f} | {lv['queue_wait_s_p50']:.2f} | {lv['separate_s_mean']:.3f} |")
    res['table'] = '\n'.join(rows)
    print(f"{res['separator']} ({res['model']}), {a.seconds:g}-s stereo songs, server OMP_NUM_THREADS={a.threads}\n")
    print(res['table'])
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1) + '\n')


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', default='scnet-synth', help='a shipped separator')
    p.add_argument('--config', help='instead: an mss YAML served with random weights')
    p.add_argument('--requests', type=int, default=20); p.add_argument('--seconds', type=float, default=2.0)
    p.add_argument('--clients', default='1,4,20', help='comma-separated concurrent client counts, one run each')
    p.add_argument('--threads', type=int, default=2, help="the server's OMP_NUM_THREADS")
    p.add_argument('--machine', default='the 2-core CPU box of this project (no GPU)')
    p.add_argument('--out')
    main(p.parse_args())

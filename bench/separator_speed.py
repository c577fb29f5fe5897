"""Speed and peak memory of the shipped separator on a 3-minute song (issue 12 §3).

A 3-minute stereo 44.1 kHz song (a held-out generated track, tiled) is separated by the installed `mss-separate`
in a fresh process with the given thread count; wall time of the whole command (start-up, model load, reading,
separating, writing four stems) and the process's peak resident memory (`ru_maxrss`) are reported, plus the time
of the separation alone (`InferenceEngine.run` in this process, after one warm-up call).

    python bench/separator_speed.py --song sep_data/test/"OpenMSX - flying_scotsman"/mixture.wav --threads 2 \
        --out bench/results/separator/speed.json
"""
import argparse, json, os, platform, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import torch


def main(a):
    from mss.audio import load_audio, save_audio
    x, sr = load_audio(a.song)
    n = int(a.seconds * sr)
    song = x.repeat(1, n // x.shape[-1] + 1)[:, :n]
    work = Path(tempfile.mkdtemp())
    save_audio(work / 'song.wav', song, sr)
    env = {**os.environ, 'OMP_NUM_THREADS': str(a.threads), 'MKL_NUM_THREADS': str(a.threads)}
    cmd = [shutil.which('mss-separate'), str(work / 'song.wav'), '--out', str(work / 'out')]
    runs = []
    for _ in range(a.repeats):
        shutil.rmtree(work / 'out', ignore_errors=True)
        t = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        runs.append(time.perf_counter() - t)
        if r.returncode: sys.exit(r.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB -> MB (Linux)
    torch.set_num_threads(a.threads)
    from mss.inference import InferenceEngine
    eng = InferenceEngine.from_pretrained()
    eng.run(song[:, : 10 * sr])  # warm-up
    t = time.perf_counter(); eng.run(song); sep = time.perf_counter() - t
    wall = min(runs)
    res = {'seconds': a.seconds, 'threads': a.threads, 'command_wall_s': [round(v, 2) for v in runs],
           's_per_min': wall / (a.seconds / 60), 'separation_only_s_per_min': sep / (a.seconds / 60),
           'peak_rss_mb': peak, 'torch': torch.__version__, 'python': platform.python_version(),
           'machine': a.machine, 'command': f"OMP_NUM_THREADS={a.threads} mss-separate song.wav --out out  (a {a.seconds / 60:g}-min song)"}
    print(json.dumps(res, indent=1))
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    shutil.rmtree(work)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--song', required=True); p.add_argument('--seconds', type=float, default=180.0)
    p.add_argument('--threads', type=int, default=2); p.add_argument('--repeats', type=int, default=2)
    p.add_argument('--machine', default='the 2-core CPU box of this project (no GPU)')
    p.add_argument('--out')
    main(p.parse_args())

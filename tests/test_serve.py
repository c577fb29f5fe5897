"""End-to-end tests of `mss-serve` (issue 16 §3): the installed command in a subprocess on 127.0.0.1, on a free port.

A tiny random SCNet (written into tmp) serves most tests — HTTP and WebSocket separation, several files per request,
every bad input, a bounded load test — a second one with a 2-second TTL tests expiry and shutdown, a third with NaN
weights makes jobs fail inside the model, and the shipped separator serves one end-to-end request. The three servers start together, and are stopped (killed if need be) at
the end. No wall-clock assertions: timeouts only bound how long a broken server can hang the suite.
"""
import http.client, io, json, os, shutil, signal, socket, subprocess, time, zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
import pytest
import soundfile as sf

httpx = pytest.importorskip('httpx')
pytest.importorskip('fastapi')
ws_client = pytest.importorskip('websockets.sync.client')
from websockets.exceptions import ConnectionClosed

EXE = shutil.which('mss-serve')
pytestmark = pytest.mark.skipif(EXE is None, reason='mss-serve is not installed (pip install -e ".[serve]")')

TINY = """model_type: scnet
model:
  dims: [4, 8, 16, 32]
  num_dplayer: 2
inference:
  chunk_size_seconds: 0.5
  hop_size_seconds: 0.25
  batch_size: 4
  derived_stems:
    - {operation: subtract, name: instrumental, stem_name: mixture, by_stem_name: vocals}
"""
SR = 44100
TINY_STEMS = ['vocals', 'drums', 'bass', 'other', 'instrumental']
TIMEOUT = 120  # s: only bounds a hang


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def song(seconds=1.5, f=220.0, channels=2, sr=SR, seed=0):
    "A stereo (or mono) test song: two tones and a little noise, float32 (L, C)."
    t = np.arange(round(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    x = np.stack([0.3 * np.sin(2 * np.pi * f * t), 0.2 * np.sin(2 * np.pi * 1.5 * f * t)], 1) + 0.02 * rng.standard_normal((len(t), 2))
    return x[:, :channels].astype('float32')


def encode(x, sr=SR, fmt='WAV', subtype='PCM_16'):
    b = io.BytesIO(); sf.write(b, x, sr, format=fmt, subtype=subtype); return b.getvalue()


def decode(data):
    x, sr = sf.read(io.BytesIO(data), dtype='float32', always_2d=True); return x, sr


class Server:
    "`mss-serve ARGS --port P` in a subprocess; `stop()` ends it (SIGTERM, then SIGKILL)."
    def __init__(self, args, log):
        self.port, self.log = free_port(), Path(log)
        self.base = f'http://127.0.0.1:{self.port}'
        env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
        self.proc = subprocess.Popen([EXE, *map(str, args), '--host', '127.0.0.1', '--port', str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, 'w'), env=env)
        self.http = httpx.Client(base_url=self.base, timeout=60)

    def wait_ready(self):
        t0 = time.monotonic()
        while time.monotonic() - t0 < TIMEOUT:
            if self.proc.poll() is not None: pytest.fail(f'mss-serve exited with {self.proc.returncode}:\n{self.log.read_text()}')
            try: return self.http.get('/health').json()
            except httpx.TransportError: time.sleep(0.2)
        pytest.fail(f'mss-serve did not answer /health:\n{self.log.read_text()}')

    def stop(self):
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(30)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        return self.proc.returncode

    def post(self, files, **data):
        "POST /separate with [(filename, bytes)]; the response."
        return self.http.post('/separate', files=[('file', (n, b, 'application/octet-stream')) for n, b in files], data=data)

    def wait(self, job_id):
        "Poll GET /jobs/{id} until the job has finished; its JSON."
        t0 = time.monotonic()
        while (s := self.http.get(f'/jobs/{job_id}').json()).get('state') in ('queued', 'running'):
            assert time.monotonic() - t0 < TIMEOUT, s
            time.sleep(0.05)
        return s

    def raw_get(self, path):
        "GET with the path sent as it is (httpx would normalise dot segments): (status, body)."
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            c.putrequest('GET', path, skip_accept_encoding=True); c.endheaders()
            r = c.getresponse(); return r.status, r.read()
        finally: c.close()


@pytest.fixture(scope='module')
def servers(tmp_path_factory):
    d = tmp_path_factory.mktemp('serve')
    (d / 'tiny.yaml').write_text(TINY)
    specs = {'tiny': ['--config', d / 'tiny.yaml', '--random-weights', '--float32', '--max-upload-mb', 1, '--max-files', 4,
                      '--job-ttl', 600, '--workdir', d / 'work-tiny'],
             'ttl': ['--config', d / 'tiny.yaml', '--random-weights', '--job-ttl', 2, '--workdir', d / 'work-ttl'],
             'shipped': ['--job-ttl', 600]}
    started = {}
    try:
        for k, args in specs.items(): started[k] = Server(args, d / f'{k}.log')  # start together: their start-ups overlap
        import torch
        from mss.models import load_config
        sd = load_config(d / 'tiny.yaml').build().state_dict()  # weights that make the model return NaN: jobs fail inside the model
        torch.save({k: torch.full_like(v, float('nan')) if v.is_floating_point() else v for k, v in sd.items()}, d / 'nan.pt')
        started['nan'] = Server(['--config', d / 'tiny.yaml', '--checkpoint', d / 'nan.pt'], d / 'nan.log')
        for s in started.values(): s.wait_ready()
        yield started | {'dir': d}
    finally:
        for s in started.values(): s.stop()


def test_health(servers):
    h = servers['tiny'].http.get('/health').json()
    assert (h['status'], h['model'], h['stems'], h['sample_rate'], h['max_files']) == ('ok', 'SCNet', TINY_STEMS, SR, 4)
    assert h['queue'] == 0 and h['max_upload_mb'] == 1.0
    assert servers['shipped'].http.get('/health').json()['stems'] == ['vocals', 'drums', 'bass', 'other']


def test_separate_over_http(servers):
    s = servers['tiny']
    x = song(1.5)
    r = s.post([('first song.wav', encode(x))])
    assert r.status_code == 202, r.text
    (job,) = r.json()['jobs']
    assert job['file'] == 'first song.wav' and job['url'] == f"/jobs/{job['id']}" and job['events_url'] == f"/jobs/{job['id']}/events"
    st = s.wait(job['id'])
    assert st['state'] == 'done' and st['error'] is None, st
    assert st['progress']['chunks_done'] == st['progress']['total_chunks'] > 0 and st['duration_s'] == pytest.approx(1.5)
    assert list(st['stems']) == TINY_STEMS
    mix, _ = decode(encode(x))  # what the server read: the 16-bit upload
    got = {}
    for stem, url in st['stems'].items():
        r = s.http.get(url)
        assert r.status_code == 200 and r.headers['content-type'] == 'audio/wav'
        got[stem], sr = decode(r.content)
        assert sr == SR and got[stem].shape == mix.shape and np.isfinite(got[stem]).all(), stem
    np.testing.assert_allclose(got['instrumental'] + got['vocals'], mix, atol=1e-5)  # the derived stem, in float32 WAV
    z = zipfile.ZipFile(io.BytesIO(s.http.get(st['zip_url']).content))
    assert sorted(z.namelist()) == sorted(f'first song/{k}.wav' for k in TINY_STEMS)
    for stem in TINY_STEMS: np.testing.assert_array_equal(decode(z.read(f'first song/{stem}.wav'))[0], got[stem])


def test_separate_over_websocket(servers):
    s = servers['tiny']
    (job,) = s.post([('ws.wav', encode(song(1.2, f=300)))]).json()['jobs']
    with ws_client.connect(f"ws://127.0.0.1:{s.port}{job['events_url']}", open_timeout=30, close_timeout=5) as ws:
        msgs = [json.loads(m) for m in ws]  # until the server closes
    types = [m['type'] for m in msgs]
    chunks = [m for m in msgs if m['type'] == 'ChunkProcessed']
    assert types[0] == 'JobStarted' and types[-1] == 'JobFinished' and chunks, types
    assert set(chunks[0]) == {'type', 'batch_index', 'total_batches', 'chunks_done', 'total_chunks', 'samples_final'}
    assert chunks[-1]['chunks_done'] == chunks[-1]['total_chunks'] and [c['batch_index'] for c in chunks] == list(range(len(chunks)))
    final = msgs[-1]
    assert final['state'] == 'done' and list(final['stems']) == TINY_STEMS
    for url in [*final['stems'].values(), final['zip_url']]: assert s.http.get(url).status_code == 200
    with ws_client.connect(f"ws://127.0.0.1:{s.port}{job['events_url']}", open_timeout=30) as ws:  # a late subscriber: the history
        assert [json.loads(m) for m in ws] == msgs


def test_several_files_and_chosen_stems(servers):
    s = servers['tiny']
    files = [('a.wav', encode(song(1.0, f=200))), ('b.wav', encode(song(0.7, f=400, seed=1))),
             ('mono.flac', encode(song(0.5, channels=1, sr=22050), sr=22050, fmt='FLAC'))]
    r = s.post(files, stems='vocals, instrumental')
    assert r.status_code == 202, r.text
    jobs = r.json()['jobs']
    assert [j['file'] for j in jobs] == ['a.wav', 'b.wav', 'mono.flac'] and len({j['id'] for j in jobs}) == 3
    for j, n in zip(jobs, (SR, round(0.7 * SR), SR // 2)):
        st = s.wait(j['id'])
        assert st['state'] == 'done' and list(st['stems']) == ['vocals', 'instrumental'], st
        x, sr = decode(s.http.get(st['stems']['vocals']).content)
        assert (sr, x.shape) == (SR, (n, 2))  # mono duplicated to stereo, 22.05 kHz resampled to 44.1 kHz


def test_bad_input(servers):
    s = servers['tiny']
    (ok,) = s.post([('ok.wav', encode(song(0.5)))]).json()['jobs']
    s.wait(ok['id'])
    nan = song(0.5); nan[100, 0] = np.nan
    inf = song(0.5); inf[7, 1] = np.inf
    big = encode(song(7.0))  # 1.2 MB of 16-bit stereo > the 1 MB limit

    def chunked():  # no Content-Length: the limit must hold while reading
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="stream.wav"\r\n\r\n'
        for _ in range(8): yield b'\0' * 2**18
        yield b'\r\n--xx--\r\n'
    cases = {
        'not audio': (s.post([('notes.txt', b'these are not samples')]), 415, 'notes.txt: not a readable audio file'),
        'empty': (s.post([('empty.wav', encode(np.zeros((0, 2), 'float32')))]), 400, 'empty.wav: the file holds no audio'),
        'NaN': (s.post([('nan.wav', encode(nan, subtype='FLOAT'))]), 400, 'nan.wav: contains NaN or Inf samples'),
        'Inf': (s.post([('inf.wav', encode(inf, subtype='FLOAT'))]), 400, 'inf.wav: contains NaN or Inf samples'),
        'too large': (s.post([('big.wav', big)]), 413, 'big.wav: the file is larger than the upload limit of 1 MB'),
        'too large, chunked': (s.http.post('/separate', content=chunked(), headers={'content-type': 'multipart/form-data; boundary=xx'}),
                               413, 'stream.wav: the file is larger than the upload limit of 1 MB'),
        'too large in all': (s.http.post('/separate', content=b'\0' * (5 * 2**20), headers={'content-type': 'multipart/form-data; boundary=xx'}),
                             413, 'is larger than 4 files of the upload limit of 1 MB'),
        'too many files': (s.post([(f'{i}.wav', encode(song(0.1))) for i in range(5)]), 400, 'too many files: at most 4 per request'),
        'no file': (s.http.post('/separate', data={'stems': 'vocals'}, files=[('x', (None, b'1'))]), 400, 'no file uploaded'),
        'not multipart': (s.http.post('/separate', content=encode(song(0.1)), headers={'content-type': 'audio/wav'}), 415, 'multipart/form-data'),
        'unknown stem asked': (s.post([('ok.wav', encode(song(0.2)))], stems='vocals,guitar'), 400, "unknown stem(s) 'guitar'; this model gives vocals, drums"),
        'unknown job': (s.http.get('/jobs/' + '0' * 32), 404, "no job '00000000000000000000000000000000'"),
        'malformed job id': (s.http.get('/jobs/abc'), 404, "no job 'abc'"),
        'unknown stem': (s.http.get(f"/jobs/{ok['id']}/stems/guitar.wav"), 404, "has no stem 'guitar'; it has vocals, drums, bass, other, instrumental"),
        'unknown job zip': (s.http.get(f"/jobs/{'1' * 32}/stems.zip"), 404, 'no job'),
        'unknown endpoint': (s.http.get('/nowhere'), 404, 'no such endpoint: GET /nowhere'),
    }
    for k, (r, status, msg) in cases.items():
        assert r.status_code == status, (k, r.status_code, r.text)
        err = r.json()['error']
        assert msg in err and err.endswith('.') and '\n' not in err, (k, err)
    # path characters in a stem name, sent raw: 400 or 404, never a file (the job folder holds upload/, stems/, stems.zip)
    for p in ['../../../../etc/passwd', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fstems.zip', '..%2fstems.zip',
              '..\\..\\stems.zip', '..%5C..%5Cstems.zip', '%252e%252e%252fstems.zip', '..', '.wav', '%2e%2e', 'vocals.wav%00.txt',
              '..%2Fupload%2Faudio.wav', '/etc/passwd', 'C:%5Cwindows%5Cwin.ini']:
        status, body = s.raw_get(f"/jobs/{ok['id']}/stems/{p}")
        assert status in (400, 404), (p, status)
        assert b'RIFF' not in body and b'root:' not in body and 'error' in json.loads(body), (p, body[:200])
    for p in [f"/jobs/{ok['id']}/../../etc/passwd", f"/jobs/..%2F{ok['id']}/stems.zip", f"/jobs/{ok['id']}/stems/../stems.zip"]:
        status, body = s.raw_get(p)
        assert status == 404 and b'PK' not in body, (p, status)
    # an unknown job's WebSocket: one error message, then close code 4404
    with ws_client.connect(f"ws://127.0.0.1:{s.port}/jobs/{'2' * 32}/events", open_timeout=30) as ws:
        msgs = [json.loads(ws.recv(timeout=30))]
        with pytest.raises(ConnectionClosed) as closed: ws.recv(timeout=30)
    assert closed.value.rcvd.code == 4404
    assert msgs == [{'type': 'error', 'error': msgs[0]['error']}] and 'no job' in msgs[0]['error']
    # still serving; nothing was left behind by the refusals
    (again,) = s.post([('again.wav', encode(song(0.3)))]).json()['jobs']
    assert s.wait(again['id'])['state'] == 'done'
    assert s.http.get('/health').json()['status'] == 'ok'
    assert not any((servers['dir'] / 'work-tiny' / 'incoming').glob('*/*'))


def test_job_failing_inside_the_model(servers):
    "A model returning NaN fails its job with one sentence; the worker lives on and serves the next job."
    s = servers['nan']
    jobs = s.post([('first.wav', encode(song(0.5))), ('second.wav', encode(song(0.4)))]).json()['jobs']
    with ws_client.connect(f"ws://127.0.0.1:{s.port}{jobs[0]['events_url']}", open_timeout=30) as ws:
        final = [json.loads(m) for m in ws][-1]
    assert (final['type'], final['state'], final['stems'], final['zip_url']) == ('JobFinished', 'failed', None, None)
    assert final['error'] == "the separation failed: the model returned NaN or Inf samples for 'vocals'.", final['error']
    assert s.wait(jobs[1]['id'])['state'] == 'failed'  # the next job ran: the worker survived
    r = s.http.get(f"/jobs/{jobs[0]['id']}/stems.zip")
    assert r.status_code == 409 and 'failed, it has no stems' in r.json()['error']
    assert s.http.get(f"/jobs/{jobs[0]['id']}/stems/vocals.wav").status_code == 409
    h = s.http.get('/health').json()
    assert (h['status'], h['queue'], h['running']) == ('ok', 0, None)


def test_load_twenty_concurrent_requests(servers):
    "20 clients at once, each a file of its own length: every job completes, none is lost, duplicated or mixed up."
    s = servers['tiny']
    before = s.http.get('/health').json()['jobs']
    lengths = [SR // 4 + 997 * i for i in range(20)]
    def client(i):
        with httpx.Client(base_url=s.base, timeout=60) as c:
            r = c.post('/separate', files=[('file', (f'load {i}.wav', encode(song(lengths[i] / SR, f=150 + 10 * i, seed=i))))])
            assert r.status_code == 202, r.text
            (job,) = r.json()['jobs']
            return job['id']
    with ThreadPoolExecutor(20) as ex: ids = list(ex.map(client, range(20)))
    assert len(set(ids)) == 20
    for i, job_id in enumerate(ids):
        st = s.wait(job_id)
        assert (st['state'], st['file']) == ('done', f'load {i}.wav'), st
        x, _ = decode(s.http.get(st['stems']['vocals']).content)
        assert x.shape == (lengths[i], 2)
    h = s.http.get('/health').json()
    assert (h['queue'], h['running'], h['jobs']) == (0, None, before + 20)


def test_files_expire(servers):
    "With --job-ttl 2, a finished job's files go, and the job answers 404; the server stops cleanly and leaves nothing."
    s, work = servers['ttl'], servers['dir'] / 'work-ttl'
    (job,) = s.post([('short.wav', encode(song(0.5)))]).json()['jobs']
    with ws_client.connect(f"ws://127.0.0.1:{s.port}{job['events_url']}", open_timeout=30) as ws:
        final = [json.loads(m) for m in ws][-1]
    assert final['state'] == 'done' and final['expires'] == pytest.approx(final['finished'] + 2)
    assert (work / 'jobs' / job['id'] / 'stems.zip').exists()
    t0 = time.monotonic()
    while (r := s.http.get(job['url'])).status_code == 200:
        assert time.monotonic() - t0 < TIMEOUT
        time.sleep(0.1)
    assert r.status_code == 404 and 'deleted 2 s after it finished' in r.json()['error']
    assert s.http.get(final['stems']['vocals']).status_code == 404
    assert not (work / 'jobs' / job['id']).exists()
    assert s.stop() in (0, -signal.SIGTERM)  # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert not any((work / 'jobs').iterdir())
    log = s.log.read_text().splitlines()
    assert log[0].startswith(f'mss-serve: listening on http://127.0.0.1:{s.port} (SCNet: vocals, drums') and len(log) == 1, log


def test_shipped_separator_end_to_end(servers):
    s = servers['shipped']
    x = song(2.0)
    (job,) = s.post([('two seconds.wav', encode(x))]).json()['jobs']
    st = s.wait(job['id'])
    assert st['state'] == 'done', st
    mix, _ = decode(encode(x))
    stems = {k: decode(s.http.get(u).content) for k, u in st['stems'].items()}
    assert list(stems) == ['vocals', 'drums', 'bass', 'other']
    for k, (y, sr) in stems.items(): assert sr == SR and y.shape == mix.shape and np.isfinite(y).all(), k
    residual = sum(y for y, _ in stems.values()) - mix
    assert (residual ** 2).sum() < 0.1 * (mix ** 2).sum()  # the stems add up to the song (within 10 dB; measured ~21 dB)
    assert len(zipfile.ZipFile(io.BytesIO(s.http.get(st['zip_url']).content)).namelist()) == 4


def test_command_errors(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    run = lambda *a: subprocess.run([EXE, *map(str, a)], capture_output=True, text=True, env=env, timeout=TIMEOUT)
    r = run('--port', 70000)
    assert (r.returncode, r.stderr) == (2, 'mss-serve: error: --port must be in [0, 65535], got 70000.\n')
    r = run('--checkpoint', tmp_path / 'w.pt')
    assert r.returncode == 2 and '--checkpoint needs --config' in r.stderr
    (tmp_path / 'tiny.yaml').write_text(TINY)
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0)); taken.listen(); port = taken.getsockname()[1]
        r = run('--config', tmp_path / 'tiny.yaml', '--random-weights', '--port', port, '--workdir', tmp_path / 'w')
    assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}: " in r.stderr.splitlines()[-1], r.stderr

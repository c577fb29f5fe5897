"""The widgets in a real browser: JupyterLab runs a notebook showing a `mss.widgets.StemMixer`, headless Chromium
(driven by playwright) moves a gain slider with the keyboard, presses mute and "play mix", and the kernel's state is
read back from the page. `nbdev_test` builds the widgets without a front end and cannot test this wiring.

Needs the Debian package `chromium` and the Python package `playwright` (the system browser is used; nothing is
downloaded); the test is skipped, saying which is missing, without them. A screenshot of the mixer is saved under
pytest's tmp_path and, when MSS_SCREENSHOT is set, to that path (nbs/images/stem_mixer.png was made this way).
"""
import json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
try: from playwright.sync_api import sync_playwright
except ImportError: sync_playwright = None

NOTEBOOK_CELLS = [
    "from mss.synth import toy_song\nfrom mss.widgets import StemMixer",
    "m = StemMixer(toy_song(0, 2.0, 16000), 16000)\nm",
]

def _notebook(path:Path):
    cells = [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [], 'source': s}
             for i, s in enumerate(NOTEBOOK_CELLS)]
    nb = {'cells': cells, 'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))

def _free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on 127.0.0.1 (free port, random token) serving a notebook with a StemMixer; stopped afterwards."
    if CHROMIUM is None: pytest.skip('chromium is not installed (Debian: apt-get install chromium)')
    if sync_playwright is None: pytest.skip('playwright is not installed (pip install playwright; the system chromium is used)')
    work, port, token = tmp_path / 'lab', _free_port(), secrets.token_hex(16)
    work.mkdir(); _notebook(work / 'mixer.ipynb')
    settings = tmp_path / 'settings' / '@jupyterlab' / 'apputils-extension'
    settings.mkdir(parents=True)
    (settings / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = dict(os.environ, OMP_NUM_THREADS='1', JUPYTER_CONFIG_DIR=str(tmp_path / 'config'), JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / 'settings'), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'workspaces'),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep))
    log = open(tmp_path / 'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
                             '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={work}',
                             '--LabApp.expose_app_in_browser=True', *(['--ServerApp.allow_root=True'] if os.geteuid() == 0 else [])],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None: pytest.fail(f'JupyterLab exited ({proc.returncode}):\n{(tmp_path / "jupyterlab.log").read_text()[-3000:]}')
            try:
                with urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2): break
            except OSError:
                if time.monotonic() > deadline: pytest.fail('JupyterLab did not answer within 60 s')
                time.sleep(0.3)
        yield dict(url=url, token=token, log=tmp_path / 'jupyterlab.log')
    finally:
        try: os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernel: the group this fixture started
        except ProcessLookupError: pass
        try: proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
        log.close()

def test_stem_mixer_in_jupyterlab(lab, tmp_path):
    t0 = time.monotonic()
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; /dev/shm is small in containers
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=['--no-sandbox', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport={'width': 1100, 'height': 1000})
            page.set_default_timeout(90_000)
            page.goto(f"{lab['url']}/lab/tree/mixer.ipynb?token={lab['token']}")
            page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                          && w.sessionContext.session.kernel.status === 'idle'); }""")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            label = page.locator('.mss-gains')
            label.wait_for()
            page.wait_for_function("() => document.querySelector('.mss-stem-mixer img') !== null")
            assert label.inner_text() == 'gains: vocals 0.0 dB, drums 0.0 dB, bass 0.0 dB, other 0.0 dB'

            page.locator('.mss-gain-0 .noUi-handle').focus()          # vocals: four steps down with the keyboard
            for _ in range(4): page.keyboard.press('ArrowLeft')
            page.wait_for_function("() => !document.querySelector('.mss-gains').innerText.includes('vocals 0.0 dB')")
            readout = page.locator('.mss-gain-0 .widget-readout').inner_text().strip().replace('\u2212', '-')  # d3-format writes U+2212
            assert float(readout) == -2.0, readout                      # four steps of 0.5 dB
            page.wait_for_function("r => document.querySelector('.mss-gains').innerText.includes(`vocals ${r} dB`)", arg=readout)

            page.locator('.mss-mute-2').click()                         # bass muted
            page.wait_for_function("() => document.querySelector('.mss-gains').innerText.includes('bass muted')")
            text = label.inner_text()
            assert text == f'gains: vocals {readout} dB, drums 0.0 dB, bass muted, other 0.0 dB', text

            assert page.locator('.mss-player audio').count() == 0     # no player before the first render
            page.locator('.mss-play').click()
            page.wait_for_function("() => { const a = document.querySelector('.mss-player audio'); return !!(a && a.src); }")
            page.wait_for_function("() => document.querySelector('.mss-status').innerText.startsWith('mix: 2.0 s, peak ')")

            shot = tmp_path / 'stem_mixer.png'
            page.locator('.mss-stem-mixer').screenshot(path=str(shot))
            if os.environ.get('MSS_SCREENSHOT'):
                dest = Path(os.environ['MSS_SCREENSHOT']); dest.parent.mkdir(parents=True, exist_ok=True); shutil.copy(shot, dest)
            assert shot.stat().st_size > 1000
        except Exception:
            print(lab['log'].read_text()[-3000:])
            raise
        finally:
            browser.close()
    print(f'browser test: {time.monotonic() - t0:.1f} s after the server was up')

"""Run the notebooks under pytest (opt-in: `MSS_NB_PYTEST=1 pytest tests/test_notebooks.py`).

CI runs every notebook once with `nbdev_test`; this bridge is for developers who prefer pytest's selection and
reporting. Extra flags (e.g. slow) come from `MSS_TEST_FLAGS="slow"`.
"""
import os
from pathlib import Path
import pytest
import nbdev.test as nbt

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb')
             if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT / 'nbs').parts))
FLAGS = 'notest slow gpu'.split()
FORCE = os.environ.get('MSS_TEST_FLAGS', '').split()

@pytest.mark.skipif(os.environ.get('MSS_NB_PYTEST') != '1', reason='notebooks run in CI through nbdev_test; set MSS_NB_PYTEST=1')
@pytest.mark.parametrize('nb', NBS, ids=lambda p: str(p.relative_to(ROOT / 'nbs')))
def test_notebook(nb):
    ok, _ = nbt.test_nb(nb, skip_flags=[f for f in FLAGS if f not in FORCE], force_flags=FORCE, basepath=ROOT)
    assert ok

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / 'shared' / 'fixtures'
os.environ.setdefault('OMP_NUM_THREADS', '1')

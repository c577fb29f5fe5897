import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / 'fixtures'  # reference tensors, shipped with the repository (see its README)
os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(scope='session')
def fixture_path():
    "The path of a file in tests/fixtures; a missing fixture fails the test that needs it (it is never skipped)."
    def path(name):
        p = FIXTURES / name
        if not p.is_file():
            pytest.fail(f'reference fixture {p} is missing: the fixtures ship with the repository in tests/fixtures '
                        f'(restore them with `git checkout -- tests/fixtures`)', pytrace=False)
        return p
    return path

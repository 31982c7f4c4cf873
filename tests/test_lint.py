"""ruff over the whole source tree, as a test."""

import shutil
import subprocess


def test_ruff_is_clean(repo_root):
    ruff = shutil.which('ruff')
    assert ruff, 'ruff is not installed in the environment (make setup)'
    result = subprocess.run([ruff, 'check', 'src', 'tests', 'bench', 'conftest.py'],
                            cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

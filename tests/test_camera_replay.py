"""scripts/camera_replay.py: a shipped scenario's shelf camera replayed beside the truth."""

import importlib.util


def _replay_module(repo_root):
    spec = importlib.util.spec_from_file_location('camera_replay',
                                                  repo_root / 'scripts' / 'camera_replay.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replay_shows_the_reaching_shopper_and_the_name_the_pipeline_gives(repo_root,
                                                                              capsys):
    assert _replay_module(repo_root).main(['one_shopper', 'cam_shelf_a', '7.5', '8.5', '--fps', '5']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert all('truth [obama@106,251,125 R]' in line for line in lines)
    assert any(':obama@' in line.split('seen')[1] for line in lines)

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


def test_the_offline_pipeline_takes_every_face_node_parameter_of_the_vision_file(repo_root):
    """A changed copy of vision.yaml changes the offline pipeline as it would face_node (the
    jump, gap and alignment settings were once left at their defaults)."""
    replay = _replay_module(repo_root)
    params = replay.face_node_settings(repo_root / 'src/ezshop_bringup/config/vision.yaml')
    changed = {**params, 'jump_widths': 0.0, 'gap_recheck_s': 1.5, 'min_appearance': 0.4,
               'landmark_model': 'small', 'upsample': 1, 'votes_needed': 3,
               'second_look_interval_s': 2.0, 'visit_memory_s': 60.0, 'margin': 0.07}
    engine = replay.build_engine(changed)
    assert (engine.landmarks, engine.settings.upsample) == ('small', 1)
    store = replay.load_store(None)
    shelf = next(c for c in store.cameras if c.coverage)
    pipeline = replay.build_pipeline(changed, engine, replay.Gallery(),
                                     replay.build_visit_memory(changed), shelf.camera_id, shelf)
    tracker = pipeline.tracker.settings
    assert (tracker.jump_widths, tracker.gap_recheck_s, tracker.min_appearance) == \
        (0.0, 1.5, 0.4)
    assert pipeline.settings.votes_needed == 3 and pipeline.policy.margin == 0.07
    assert pipeline.second_look.settings.second_look_interval_s == 2.0
    assert pipeline.visit_memory.settings.visit_memory_s == 60.0

"""The whole store graph, end to end: two shoppers at one shelf, one put-back.

sim.launch.xml (ezshop_bringup), under real `ros2 launch`, starts the real shelf monitor, face node, door nodes, fusion and store
nodes, the simulator (frames from real face photos, noisy lane readings) and the referee, which
enrols the shoppers and judges the receipts. Every receipt must equal the ground truth. The
verdict is the referee's results file: `ros2 launch` exits 0 whatever its processes returned.
"""

import json

from ezshop_sim.scenario import load_scenario
from ezshop_testing.processes import ChildProcess

SCENARIO = 'two_shoppers_one_shelf'
DEADLINE_S = 300


def test_two_shoppers_one_put_back_receipts_equal_ground_truth(faces_root, tmp_path):
    scenario = load_scenario(SCENARIO)
    actions = [type(a).__name__ for s in scenario.shoppers for a in s.actions]
    assert 'PutBack' in actions and len(scenario.shoppers) == 2

    results = tmp_path / 'results.json'
    launch = ChildProcess([
        'ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml', f'scenario:={SCENARIO}', f'database_url:=sqlite:///{tmp_path / "store.db"}',
        f'results_file:={results}', 'fail_on_wrong:=true', f'timeout_s:={DEADLINE_S - 60:.1f}'])
    try:
        code = launch.proc.wait(timeout=DEADLINE_S)
    finally:
        launch.stop()
    assert code == 0, launch.output[-6000:]
    report = json.loads(results.read_text())
    assert report['finished'] and report['all_right'], json.dumps(report, indent=2)

    enrolled = {s.identity for s in scenario.shoppers if s.enrolled}
    assert report['receipts_expected'] == report['receipts_right'] == len(enrolled)
    by_name = {s['shopper']: s for s in report['shoppers']}
    assert set(by_name) == {s.identity for s in scenario.shoppers}
    for name in enrolled:
        shopper = by_name[name]
        assert shopper['charged'] == shopper['expected'], shopper
        assert shopper['charged_cents'] == shopper['expected_cents'], shopper
    assert sum(sum(s['expected'].values()) for s in report['shoppers']) > 0
    assert report['wrong_person_units'] == 0 and report['phantom_units'] == 0
    # The put-back was seen on the shelf and credited to a cart, not just never charged.
    assert report['put_back_credits'] == actions.count('PutBack'), report
    assert 'puts back' in launch.output and 'VERDICT: ALL RECEIPTS RIGHT' in launch.output

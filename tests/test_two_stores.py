"""Two simulated stores at once, each in its own namespace with its own store id, on one
PostgreSQL database: every receipt right, and nothing crosses over (each store's visits,
receipts and stock carry its id; each referee saw only its own store's topics)."""

import json

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from ezshop_store.db import models as m
from ezshop_testing.processes import ChildProcess
from ezshop_testing.scratch_db import postgres_schema, postgres_unavailable_reason

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

#: namespace / store id -> scenario; the scenarios have different shoppers.
STORES = {'north': 'one_shopper', 'south': 'put_back'}
DEADLINE_S = 420
#: The processes whose log lines tell what happened to a receipt (the referee's tell the
#: scenario's truth beside what the store saw, decided and charged).
STORY_NODES = ('[referee', 'fusion_node', 'store_node', 'door_node')


def _other_graph_ready(store: str) -> str:
    """The topic the other store's referee subscribes to once it has enrolled its shoppers."""
    return ','.join(f'/{other}/sim/ground_truth' for other in STORES if other != store)


def _story(output: str) -> str:
    """What the deciding nodes said, to tell a failure's cause from CI's output alone."""
    return '\n'.join(line for line in output.splitlines()
                     if any(node in line for node in STORY_NODES))[-8000:]


def test_two_namespaced_stores_share_one_database_without_crossing_over(tmp_path):
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres_schema() as url:
        launches = {store: ChildProcess([
            'ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml', f'namespace:={store}',
            f'store_id:={store}', f'scenario:={scenario}', f'database_url:={url}',
            f'results_file:={tmp_path / store}.json', f'timeout_s:={DEADLINE_S - 120:.1f}',
            # Two whole graphs and their simulators share two cores: the consoles, which this
            # test is not about, stay off (a simulator that stalls skips frames and readings),
            # and each scenario waits until the other graph is up too (its referee has
            # enrolled): one graph's start (a dozen processes importing, dlib models loading,
            # enrolment) starved the other's running scenario, and a pick went unseen.
            'with_web:=false', f'also_wait_for:={_other_graph_ready(store)}'])
            for store, scenario in STORES.items()}
        try:
            for launch in launches.values():
                launch.proc.wait(timeout=DEADLINE_S)
        finally:
            for store, launch in launches.items():
                launch.stop()
                (tmp_path / f'{store}.log').write_text(launch.output)
        for store, launch in launches.items():
            # A plain string, not a tuple: pytest shortens the repr of anything else.
            assert (tmp_path / f'{store}.json').exists(), f'{store} gave no verdict:\n' + '\n'.join(
                line for line in launch.output.splitlines()
                if ('referee' in line or 'ERROR' in line or 'rror' in line or 'Warning' in line)
                and 'UNMONITORED' not in line)[-6000:]
        reports = {store: json.loads((tmp_path / f'{store}.json').read_text())
                   for store in STORES}
        for store, report in reports.items():
            assert report['finished'] and report['all_right'], (
                f'{store}: {report["shoppers"]}\n' + _story(launches[store].output))
            assert report['receipts_expected'] == report['receipts_right'] == 1

        engine = create_engine(url)
        with Session(engine) as s:
            visits = s.execute(select(m.Visit.store_id, m.Customer.name)
                               .join(m.Customer, m.Customer.id == m.Visit.customer_id)).all()
            receipts = s.execute(select(m.Visit.store_id, m.Receipt.total_cents)
                                 .join(m.Visit, m.Visit.id == m.Receipt.visit_id)).all()
            stock = dict(s.execute(select(m.Item.store_id, m.Item.stock)
                                   .where(m.Item.id == 'cola')).all())
        engine.dispose()
    assert sorted(visits) == [('north', 'obama'), ('south', 'df_p04')]
    assert sorted(store for store, _ in receipts) == ['north', 'south']
    for store, report in reports.items():
        charged = sum(s['charged_cents'] for s in report['shoppers'])
        assert [c for st, c in receipts if st == store] == [charged]
    assert stock['north'] == stock['south'] - 1  # obama's cola left north's shelf only

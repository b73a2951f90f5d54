"""The three nodes as processes over DDS, end to end: what `train.launch.py` and
`drive.launch.py simulator:=embedded` do, without launch (PyPI's ROS 2 wheels have none).

Each node is started as a launch file starts it (its module, config/ros.yaml, then the node's
own values; ros_support.start_node) on a DDS domain of its own, loopback only:
- sim_node (lock-step) + train_node train the quick-start DQN until its greedy policy laps
  both ways; train_node exports the policy, writes report.json and ends by itself with 0,
  and what rviz shows (overlay, path, episode statistics) is on the graph meanwhile;
- drive_node laps from that exported policy, and from the PID baseline: completion 1.0 read
  from the drive statistics topic;
- every socket of every node is bound to loopback only.
Waits are bounded; a node left running is stopped at the end of its test.
"""
import json

import pytest
import yaml

from ros_support import Probe, fresh_domain_id, loopback_violations, require_nodes, wait_for

require_nodes()

# The quick-start config (config/train.yaml), stopping at the first lap both ways.
QUICK_START = {'track': 'simple', 'seed': 0, 'env': {'observation': 'lines'},
               'train': {'steps': 30000, 'stop_on_lap': True, 'min_steps': 0}}
TRAIN_TIMEOUT = 600.0
LAP_TIMEOUT = 240.0


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(run dir, {topic: messages}, train log text, sockets not on loopback): sim_node and
    train_node trained over DDS until train_node ended by itself."""
    from nav_msgs.msg import Path as PathMsg
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from ros_support import start_node, stop_process
    from rl_f1_driver.ros.node_util import MONITOR_QOS
    work = tmp_path_factory.mktemp('ros_train')
    config = work / 'train.yaml'
    config.write_text(yaml.safe_dump(QUICK_START))
    run_dir = work / 'run'
    domain = fresh_domain_id()
    probe = Probe(domain)
    seen = {'overlay': probe.collect(Image, '/rl_f1/overlay', MONITOR_QOS),
            'path': probe.collect(PathMsg, '/rl_f1/path', MONITOR_QOS),
            'stats': probe.collect(String, '/rl_f1/episode_stats')}
    sim, sim_log = start_node('sim_node', work, domain, {
        'track': 'simple', 'config_file': config, 'stepping': 'lockstep'})
    train, log = start_node('train_node', work, domain, {
        'track': 'simple', 'config_file': config, 'run_dir': run_dir, 'use_sim_time': True})
    try:
        assert log.wait_for('step ', 240), log.tail() + sim_log.tail()
        # Both nodes are up and talking: every socket they hold is on loopback.
        sockets = {name: loopback_violations(p.pid) for name, p in
                   (('sim_node', sim), ('train_node', train))}
        ended = wait_for(lambda: train.poll() is not None, TRAIN_TIMEOUT, period=0.5)
        assert ended, f'train_node still training after {TRAIN_TIMEOUT} s:\n' + log.tail()
        assert train.returncode == 0, log.tail()
        yield run_dir, seen, log.text(), sockets
    finally:
        probe.close()
        stop_process(train)
        stop_process(sim)


def test_sim_node_and_train_node_train_to_a_lap_both_ways_and_export(trained):
    run_dir, seen, text, _ = trained
    assert 'Traceback' not in text
    report = json.loads((run_dir / 'report.json').read_text())
    assert report['stopped'] == 'lap_driven'
    assert report['last_eval']['completion'] == 1.0
    assert report['last_eval']['reverse_completion'] == 1.0
    assert report['time_to_first_lap_s'] is not None
    assert (run_dir / 'policy' / 'saved_model.pb').is_file()
    assert (run_dir / 'policy' / 'rl_f1_driver.yaml').is_file()
    assert (run_dir / 'train_state.json').is_file()
    # What rviz shows: the camera overlay, the driven path, a JSON line per episode.
    overlay = seen['overlay'][-1]
    assert (overlay.width, overlay.height, overlay.encoding) == (640, 480, 'bgr8')
    assert seen['path'][-1].header.frame_id == 'odom'
    assert any(len(p.poses) >= 10 for p in seen['path'])
    episodes = [json.loads(m.data) for m in seen['stats']]
    assert episodes, 'no episode statistics arrived'
    for key in ('episode', 'completion', 'end_reason', 'steps', 'mean_abs_deviation_m'):
        assert key in episodes[0]
    assert [e['episode'] for e in episodes] == sorted(e['episode'] for e in episodes)


def test_every_node_socket_is_bound_to_loopback_only(trained, nodes):
    *_, train_sockets = trained
    assert train_sockets == {'sim_node': [], 'train_node': []}
    proc, log, _ = nodes('drive_node', {'track': 'simple', 'controller': 'pid'})
    assert log.wait_for('driving from', 120), log.tail()
    assert loopback_violations(proc.pid) == []


@pytest.mark.parametrize('controller', ['policy', 'pid'])
def test_drive_node_laps_with_sim_node(trained, nodes, controller):
    from nav_msgs.msg import Path as PathMsg
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from rl_f1_driver.ros.node_util import MONITOR_QOS
    run_dir = trained[0]
    domain = fresh_domain_id()
    probe = Probe(domain)
    try:
        stats = probe.collect(String, '/rl_f1/drive_stats')
        overlays = probe.collect(Image, '/rl_f1/overlay', MONITOR_QOS)
        paths = probe.collect(PathMsg, '/rl_f1/path', MONITOR_QOS)
        nodes('sim_node', {'track': 'simple', 'stepping': 'lockstep'}, domain)
        drive = {'track': 'simple', 'controller': controller, 'use_sim_time': True}
        if controller == 'policy':
            drive['policy_dir'] = run_dir / 'policy'
        proc, log, _ = nodes('drive_node', drive, domain)

        def laps():
            return [r for r in (json.loads(m.data) for m in list(stats)) if r['event'] == 'lap']
        lapped = wait_for(lambda: laps() and overlays and paths or proc.poll() is not None,
                          LAP_TIMEOUT, period=0.2)
    finally:
        probe.close()
    assert lapped and laps(), (f'{controller}: no lap within {LAP_TIMEOUT} s '
                               f'(stats: {[m.data for m in stats][-3:]})\n' + log.tail())
    lap = laps()[0]
    assert lap['completion'] == 1.0
    assert lap['direction'] == 'forward'
    # simple is 208 m: a lap at the car's 4-7 m/s takes 30-60 s of simulation time.
    assert 25.0 < lap['lap_time_s'] < 80.0, lap
    assert lap['mean_abs_deviation_m'] < 1.0
    image = overlays[-1]
    assert (image.width, image.height, image.encoding) == (640, 480, 'bgr8')
    assert paths[-1].header.frame_id == 'odom'
    assert len(paths[-1].poses) >= 10

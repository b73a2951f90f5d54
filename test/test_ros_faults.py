"""Faults, live over DDS: what the ROS pipeline does when a part of it fails.

- the simulator dies while training: train_node ends within frame_timeout (plus the time to
  save) naming the camera topic, with checkpoint and train_state.json saved; resume:=true
  continues from them;
- the camera stops while driving: the drive node's watchdog sends a zero Twist within
  frame_timeout;
- a reset service that never answers: an error after service_timeout that names it;
- two pipelines on different ROS_DOMAIN_IDs do not see each other;
- Ctrl-C while training: sim_node serves train_node's last steps and evaluation, the policy
  is exported and both end cleanly.
The nodes run as processes, as train.launch.py and drive.launch.py simulator:=embedded start
them (ros_support.start_node: config/ros.yaml, then the node's own values), each pipeline on
its own domain (ros_support.fresh_domain_id), loopback only; waits are bounded.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import yaml

from ros_support import Probe, ctrl_c, fresh_domain_id, require_nodes, wait_for

require_nodes()

# Small network, short run: the point is the failure and the resume, not the driving.
QUICK = {'track': 'simple', 'seed': 0, 'env': {'observation': 'lines'},
         'train': {'steps': 2500, 'initial_collect_steps': 300, 'log_interval': 200,
                   'eval_interval': 1000, 'eval_max_steps': 60, 'checkpoint_interval': 500,
                   'fc_layers': [16], 'stop_on_lap': False}}
FRAME_TIMEOUT = 2.0
SAVE_MARGIN = 20.0   # checkpoint, train_state.json and process exit, on a loaded 2-core box


def train_pipeline(nodes, config, run_dir, domain=None, resume=False, **train_values):
    """((sim proc, sim log), (train proc, train log), domain): what
    `train.launch.py simulator:=embedded config:=CONFIG run_dir:=RUN_DIR` starts: a lock-step
    sim_node and train_node on one domain, train_node's own `train_values` over ros.yaml."""
    sim, sim_log, domain = nodes('sim_node', {
        'track': 'simple', 'config_file': config, 'stepping': 'lockstep'}, domain)
    train, log, _ = nodes('train_node', {
        'track': 'simple', 'config_file': config, 'run_dir': run_dir, 'resume': resume,
        'role': 'train', 'ray_address': '', 'replay': 'replay',
        'actor_id': 0, 'use_sim_time': True,
        **train_values}, domain)
    return (sim, sim_log), (train, log), domain


def drive_pipeline(nodes, circuit='simple', stepping='realtime', domain=None, **drive_values):
    """((sim proc, sim log), (drive proc, drive log), domain): what `drive.launch.py
    simulator:=embedded controller:=pid circuit:=CIRCUIT` starts, `drive_values` over
    ros.yaml's drive_node section."""
    sim, sim_log, domain = nodes('sim_node', {
        'track': circuit, 'config_file': '', 'stepping': stepping}, domain)
    drive, log, _ = nodes('drive_node', {
        'track': circuit, 'policy_dir': '', 'controller': 'pid', 'config_file': '',
        'use_sim_time': True, **drive_values}, domain)
    return (sim, sim_log), (drive, log), domain


def test_killed_simulator_ends_training_with_a_saved_resumable_checkpoint(tmp_path, nodes):
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump(QUICK))
    run_dir = tmp_path / 'run'
    link = {'frame_timeout': FRAME_TIMEOUT, 'reset_retries': 0}
    (sim, sim_log), (train, log), _ = train_pipeline(nodes, config, run_dir, **link)
    # Past the first checkpoint, inside the training loop.
    assert log.wait_for('step     1,000/2,500', 240), log.tail() + sim_log.tail()
    os.kill(sim.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert wait_for(lambda: train.poll() is not None, FRAME_TIMEOUT + SAVE_MARGIN,
                    period=0.1), log.tail()
    took = time.monotonic() - killed
    text = log.text()
    # It ends as a failure it reports (status 1), naming the topic that went quiet.
    assert train.returncode == 1, log.tail()
    assert 'simulator link failed' in text, log.tail()
    assert '/f1/camera/image_raw' in text[text.index('simulator link failed'):], log.tail()
    assert took <= FRAME_TIMEOUT + SAVE_MARGIN
    state = json.loads((run_dir / 'train_state.json').read_text())
    assert state['stopped'].startswith('simulator_lost: ')
    assert '/f1/camera/image_raw' in state['stopped']
    saved_steps = state['env_steps']
    assert saved_steps >= 1000
    assert any((run_dir / 'checkpoints').glob('ckpt-*.index'))

    # Back on its feet: a new simulator, and resume:=true continues from the saved counters
    # to the end.
    _, (train, log), _ = train_pipeline(nodes, config, run_dir, resume=True, **link)
    try:
        train.wait(400)
    except subprocess.TimeoutExpired:
        pytest.fail('the resumed training did not finish:\n' + log.tail())
    assert train.returncode == 0, log.tail()
    assert 'resumed from' in log.text() and f'{saved_steps:,}' in log.text(), log.tail()
    report = json.loads((run_dir / 'report.json').read_text())
    assert report['env_steps'] >= QUICK['train']['steps']
    assert report['stopped'] == 'steps_done'


def test_camera_that_stops_makes_the_drive_watchdog_stop_the_car(nodes):
    from geometry_msgs.msg import Twist

    from rl_f1_driver.ros.node_util import COMMAND_QOS
    frame_timeout = 0.5
    (sim, _), (_, log), domain = drive_pipeline(nodes, stepping='realtime',
                                                frame_timeout=frame_timeout)
    sim_pid = sim.pid
    probe = Probe(domain)
    got = []   # (monotonic arrival, linear.x, angular.z)
    lock = threading.Lock()

    def on_twist(msg):
        with lock:
            got.append((time.monotonic(), msg.linear.x, msg.angular.z))
    probe.node.create_subscription(Twist, '/f1/cmd_vel', on_twist, COMMAND_QOS)
    try:
        assert wait_for(lambda: sum(1 for g in got if g[1] > 0) >= 10, 120), log.tail()
        os.kill(sim_pid, signal.SIGSTOP)    # frozen: no more frames, nothing exits
        stopped = time.monotonic()
        try:
            assert wait_for(lambda: any(t > stopped and v == 0.0 and w == 0.0
                                        for t, v, w in list(got)), 10), log.tail()
        finally:
            os.kill(sim_pid, signal.SIGCONT)
    finally:
        probe.close()
    first_zero = min(t for t, v, w in got if t > stopped and v == 0.0 and w == 0.0)
    # The watchdog counts from the last frame (before the freeze), checks every 50 ms.
    assert first_zero - stopped <= frame_timeout + 0.3
    assert 'no camera frame for' in log.text() and 'stopping the car' in log.text()


def test_reset_service_that_never_answers_is_an_error_naming_it():
    import rclpy
    from gazebo_msgs.srv import SetEntityState
    from sensor_msgs.msg import Image

    from rl_f1_driver.config import load_config
    from rl_f1_driver.config import ros_params as params
    from rl_f1_driver.ros.frame_gate import LinkTimeout
    from rl_f1_driver.ros.gazebo_link import GazeboLink
    from rl_f1_driver.ros.node_util import BackgroundSpinner, image_msg, time_msg
    from rl_f1_driver.sim.types import Pose2D

    domain = fresh_domain_id()
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    cfg = load_config(overrides={'camera.width': 64, 'camera.height': 48})
    p = params.node_defaults('train_node')
    p.update(startup_timeout=10.0, service_timeout=1.5, frame_timeout=1.0, reset_retries=0)
    # The service exists (discovery sees it) but its node is never spun: no answer, ever.
    mute = rclpy.create_node('mute_gazebo', context=context)
    mute.create_service(SetEntityState, p['set_entity_state_service'], lambda req, res: res)
    camera = rclpy.create_node('camera', context=context)
    pub = camera.create_publisher(Image, p['camera_topic'], 10)
    frame = [0]

    def publish_frame():
        frame[0] += 1
        pub.publish(image_msg(__import__('numpy').zeros((48, 64, 3), 'uint8'),
                              time_msg(0.05 * frame[0]), 'camera_link'))
    camera.create_timer(0.05, publish_frame)
    link_node = rclpy.create_node('train_node', context=context)
    link = GazeboLink(link_node, params.LinkSettings.from_params(p), cfg.camera, cfg.car,
                      use_cv_bridge=False)
    spinners = [BackgroundSpinner(camera).start(), BackgroundSpinner(link_node).start()]
    try:
        t0 = time.monotonic()
        with pytest.raises(LinkTimeout) as err:
            link.reset(Pose2D(0.0, 0.0, 0.0))
        took = time.monotonic() - t0
    finally:
        for s in spinners:
            s.stop()
        for n in (mute, camera, link_node):
            n.destroy_node()
        rclpy.try_shutdown(context=context)
    assert f'{p["set_entity_state_service"]}: no response within 1.5 s' in str(err.value)
    assert link.failure is err.value
    assert 1.5 <= took <= 1.5 + 8.0   # the service timeout, after start-up (first frame)


def test_pipelines_on_different_domains_do_not_see_each_other(nodes):
    from sensor_msgs.msg import Image
    a_domain, b_domain = fresh_domain_id(), fresh_domain_id()
    _, (_, a_log), _ = drive_pipeline(nodes, 'simple', domain=a_domain)
    _, (_, b_log), _ = drive_pipeline(nodes, 'hairpins', domain=b_domain)
    for log in (a_log, b_log):
        assert log.wait_for('lap statistics on', 120), log.tail()
    probes = {d: Probe(d) for d in (a_domain, b_domain)}
    try:
        images = {d: probes[d].collect(Image, '/f1/camera/image_raw') for d in probes}
        # Each domain: its own camera arrives ...
        assert wait_for(lambda: all(len(v) >= 3 for v in images.values()), 60)
        for d, probe in probes.items():
            def names(probe=probe):
                return sorted(n for n in probe.node.get_node_names() if n != 'probe')
            # ... from exactly one publisher, and one of each node: nothing crossed over.
            # (The graph learns node names after the topics: wait until it knows both.)
            assert probe.node.count_publishers('/f1/camera/image_raw') == 1
            wait_for(lambda: len(names()) >= 2, 30)
            assert names() == ['drive_node', 'sim_node'], (d, names())
    finally:
        for probe in probes.values():
            probe.close()


def test_ctrl_c_while_training_still_evaluates_and_exports(tmp_path, nodes):
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump({**QUICK, 'train': {**QUICK['train'], 'steps': 20000}}))
    run_dir = tmp_path / 'run'
    (sim, sim_log), (train, log), _ = train_pipeline(nodes, config, run_dir)
    # Past the periodic evaluation at 1,000 steps: the last one is made after the signal.
    assert log.wait_for('step     1,200/20,000', 240), log.tail() + sim_log.tail()
    # Ctrl-C in the terminal of a launch: SIGINT reaches both nodes at once.
    for proc in (train, sim):
        ctrl_c(proc)
    for proc, node_log, what in ((train, log, 'train_node'), (sim, sim_log, 'sim_node')):
        try:
            proc.wait(150)
        except subprocess.TimeoutExpired:
            pytest.fail(f'{what} did not end after Ctrl-C:\n' + node_log.tail())
    report = json.loads((run_dir / 'report.json').read_text())
    assert report['stopped'] == 'interrupted'
    assert report['last_eval']['env_steps'] == report['env_steps']   # evaluated at the end
    assert (run_dir / 'policy' / 'saved_model.pb').is_file()
    # sim_node waited for train_node's last steps and evaluation
    assert 'stopping once nothing publishes on /f1/cmd_vel' in sim_log.text(), sim_log.tail()
    # both finished cleanly
    assert (train.returncode, sim.returncode) == (0, 0), log.tail() + sim_log.tail()

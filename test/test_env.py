"""F1FollowLineEnv: specs, actions, reward, termination/truncation, laps, determinism."""
import contextlib
import dataclasses

import numpy as np
import pytest
from tf_agents.environments import utils as env_utils
from tf_agents.trajectories import time_step as ts

import rl_f1_driver
from conftest import STRAIGHT_OVAL, write_yaml
from rl_f1_driver.config import load_config
from rl_f1_driver.config.schema import EnvConfig
from rl_f1_driver.env import config_overrides, F1FollowLineEnv
from rl_f1_driver.sim import Frame, Pose2D, Simulator
from rl_f1_driver.sim.camera import row_index
from rl_f1_driver.track import load_circuit

W, H = 640, 480
# Drive the circuit in its file's order (the env may also drive loops the other way round).
FORWARD = ({'direction': 'forward'}
           if 'direction' in {f.name for f in dataclasses.fields(EnvConfig)} else {})


class FakeSim(Simulator):
    """A Gazebo-like backend: full frames only, a red stripe wherever the test puts it.

    `columns[k]` is the stripe centre on perception row k (None: not there). `poses` (optional)
    is a list of poses handed out one per step.
    """

    def __init__(self, rows, columns=(320.0, 320.0, 320.0), poses=None):
        self.rows = rows
        self.columns = list(columns)
        self.poses = list(poses or [])
        self.commands, self.resets, self.views = [], [], []
        self.t = 0.0

    @property
    def control_period(self):
        return 0.05

    def request_view(self, view):
        self.views.append(view)

    def _frame(self):
        img = np.empty((H, W, 3), np.uint8)
        img[:] = (95, 95, 95)
        for r, c in zip(self.rows, self.columns):
            if c is not None:
                img[r - 1:r + 2, int(c) - 5:int(c) + 5] = (30, 30, 200)
        pose = self.poses.pop(0) if self.poses else None
        return Frame(image=img, stamp=self.t, pose=pose, speed=1.0)

    def reset(self, pose):
        self.resets.append(pose)
        self.t = 0.0
        return self._frame()

    def step(self, cmd):
        self.commands.append(cmd)
        self.t += self.control_period
        return self._frame()


def fake_env(columns=(320.0, 320.0, 320.0), circuit=None, poses=None, **overrides):
    cfg = load_config(overrides=config_overrides(**{**FORWARD, **overrides}))
    rows = [row_index(H, f) for f in cfg.perception.rows]
    sim = FakeSim(rows, columns, poses)
    return F1FollowLineEnv(sim, cfg, circuit, seed=0), sim, cfg


def steer_to_line(env, obs, gain=2.0):
    """Proportional controller on the `lines` observation: turn towards the line."""
    k = len(env.config.perception.rows)
    target_w = -gain * float(np.mean(obs[:k]))  # line right (error > 0): turn right (w < 0)
    a = env.actions
    return np.int32(np.argmin(np.abs(a[:, 1] - target_w) - 0.01 * a[:, 0]))


# --- tf-agents contract -------------------------------------------------------------------

@pytest.mark.parametrize('observation', ['lines', 'image'])
def test_validate_py_environment(observation):
    env = rl_f1_driver.make_env(track='simple', observation=observation, seed=0, max_steps=150)
    env_utils.validate_py_environment(env, episodes=3)


def test_specs_lines(cfg):
    env = rl_f1_driver.make_env(seed=0)
    spec = env.observation_spec()
    k = len(cfg.perception.rows)
    assert spec.shape == (k + 2,) and spec.dtype == np.float32
    assert float(spec.minimum) == -1.0 and float(spec.maximum) == 1.0
    a = env.action_spec()
    assert a.shape == () and a.dtype == np.int32
    assert int(a.minimum) == 0 and int(a.maximum) == len(cfg.actions) - 1
    assert rl_f1_driver.make_env(prev_action=False).observation_spec().shape == (k,)


def test_specs_image(cfg):
    env = rl_f1_driver.make_env(observation='image', stack=3)
    p = cfg.perception
    assert env.observation_spec().shape == (p.mask_height, p.mask_width, 3)
    assert env.observation_spec().dtype == np.uint8
    first = env.reset()
    assert first.observation.shape == (p.mask_height, p.mask_width, 3)


@contextlib.contextmanager
def numpy_2_promotion():
    """numpy 2's type promotion (NEP 50: a Python int takes the array's dtype, so uint8
    255 + 1 is uint8 0): numpy 2 has it, numpy 1.24 to 1.26 can switch it on for a while."""
    get = getattr(np, '_get_promotion_state', None)
    before = get() if get is not None else 'weak'
    if before == 'weak':
        yield
        return
    np._set_promotion_state('weak')
    try:
        yield
    finally:
        np._set_promotion_state(before)


def test_image_spec_builds_a_q_network_under_numpy_2_promotion():
    """tf-agents builds a network's variables on a sample of its input spec
    (Network.create_variables -> tensor_spec.sample_spec_nest -> sample_bounded_spec), whose
    exclusive upper bound is maximum + 1: from a scalar uint8 maximum of 255 that is uint8 0
    on numpy 2 ('Need minval < maxval, got 0 >= 0'); with numpy 1.26's NEP 50 switched on it
    fails on the same lines (OverflowError comparing uint8 with int32's max). On plain numpy
    1.26 it passes with either spec: only the promotion state makes it bite here."""
    from tf_agents.specs import array_spec, tensor_spec

    from rl_f1_driver.learn.networks import build_q_network
    env = rl_f1_driver.make_env(observation='image', stack=3)
    spec = env.observation_spec()
    # The bounds the network sees are 0..255, as a scalar spec gives them.
    assert spec == array_spec.BoundedArraySpec(spec.shape, np.uint8, 0, 255, name='observation')
    assert spec.check_array(np.full(spec.shape, 255, np.uint8))
    obs_spec, act_spec = tensor_spec.from_spec(spec), tensor_spec.from_spec(env.action_spec())
    with numpy_2_promotion():
        sample = tensor_spec.sample_spec_nest(obs_spec, outer_dims=(4,), seed=0).numpy()
        net = build_q_network(obs_spec, act_spec, env.config.train, 'image')
        net.create_variables()
        # The numpy sampler (random py policies, array_spec.sample_spec_nest) too.
        drawn = array_spec.sample_spec_nest(spec, np.random.RandomState(0), outer_dims=(4,))
    for x in (sample, drawn):
        assert x.dtype == np.uint8 and x.shape == (4,) + spec.shape
        assert x.min() == 0 and x.max() == 255


def test_actions_come_from_config():
    actions = [[1.0, 0.0], [2.0, 0.5], [3.0, -0.5]]
    env, sim, _ = fake_env(actions=actions)
    assert int(env.action_spec().maximum) == 2
    env.reset()
    for i in (2, 0, 1):
        env.step(np.int32(i))
    sent = [(c.linear_x, c.angular_z) for c in sim.commands]
    assert sent == [tuple(actions[i]) for i in (2, 0, 1)]


def test_requests_only_what_perception_reads(cfg):
    _, sim, _ = fake_env()
    assert sim.views[-1].rows is not None and len(sim.views[-1].rows) == 3
    _, sim, _ = fake_env(**{'env.observation': 'image'})
    assert min(sim.views[-1].rows) >= cfg.perception.mask_top


# --- reward ---------------------------------------------------------------------------------

def test_reward_centring_speed_and_zigzag(cfg):
    cols = (320.0, 400.0, 160.0)
    env, sim, cfg = fake_env(columns=cols)
    r = cfg.reward
    acts = np.asarray(cfg.actions)
    v_max, w_max = acts[:, 0].max(), np.abs(acts[:, 1]).max()
    errors = (np.array(cols) - W / 2) / (W / 2)
    centre = np.mean(1.0 - np.abs(errors))
    env.reset()
    prev_w = 0.0
    for a in (0, 3, 4, 4, 1):
        step = env.step(np.int32(a))
        v, w = acts[a]
        expected = (r.centre_weight * centre + r.speed_weight * v / v_max
                    - r.zigzag_weight * abs(w - prev_w) / w_max)
        assert float(step.reward) == pytest.approx(expected, abs=1e-5)
        assert step.observation[:3] == pytest.approx(errors, abs=1e-6)
        assert step.observation[3:] == pytest.approx([v / v_max, w / w_max])
        prev_w = w
    assert step.reward.dtype == np.float32


def test_reward_weights_from_config():
    env, _, _ = fake_env(reward={'centre_weight': 0.0, 'speed_weight': 2.0,
                                 'zigzag_weight': 0.0})
    env.reset()
    assert float(env.step(np.int32(0)).reward) == pytest.approx(2.0)


def test_lost_rows_earn_no_centring_reward():
    env, _, cfg = fake_env(columns=(320.0, None, None), reward={'speed_weight': 0.0})
    env.reset()
    step = env.step(np.int32(0))   # straight: no zig-zag term
    assert float(step.reward) == pytest.approx(cfg.reward.centre_weight / 3)


def test_centring_reward_is_larger_near_the_centre():
    rewards = []
    for c in (320.0, 360.0, 440.0, 600.0):
        env, _, _ = fake_env(columns=(c, c, c))
        env.reset()
        rewards.append(float(env.step(np.int32(0)).reward))
    assert rewards == sorted(rewards, reverse=True) and len(set(rewards)) == 4


# --- termination and truncation -------------------------------------------------------------

def test_terminates_after_lost_frames_consecutive_lost_frames(cfg):
    m = cfg.env.lost_frames
    env, sim, cfg = fake_env()
    env.reset()
    env.step(np.int32(0))
    sim.columns = [None, None, None]
    steps = [env.step(np.int32(0)) for _ in range(m)]
    assert all(s.step_type == ts.StepType.MID for s in steps[:-1])
    assert all(float(s.discount) == 1.0 for s in steps[:-1])
    last = steps[-1]
    assert last.step_type == ts.StepType.LAST and float(last.discount) == 0.0
    # Lost everywhere: no centring; the penalty lands on the final step only.
    v_term = cfg.reward.speed_weight * 1.0
    assert float(steps[0].reward) == pytest.approx(v_term)
    assert float(last.reward) == pytest.approx(v_term - cfg.reward.lost_penalty)
    assert env.episode_summary()['end_reason'] == 'line_lost'
    # The next step starts a new episode.
    sim.columns = [320.0] * 3
    assert env.step(np.int32(0)).step_type == ts.StepType.FIRST
    assert len(sim.resets) == 2


def test_lost_counter_resets_when_the_line_is_seen_again(cfg):
    m = cfg.env.lost_frames
    env, sim, _ = fake_env()
    env.reset()
    for _ in range(3):
        sim.columns = [None] * 3
        for _ in range(m - 1):
            assert not env.step(np.int32(0)).is_last()
        sim.columns = [None, 500.0, None]   # seen on one row: not lost
        assert not env.step(np.int32(0)).is_last()


@pytest.mark.parametrize('m', [1, 3])
def test_lost_frames_setting(m):
    env, sim, _ = fake_env(lost_frames=m)
    env.reset()
    sim.columns = [None] * 3
    types = [int(env.step(np.int32(0)).step_type) for _ in range(m)]
    assert types == [int(ts.StepType.MID)] * (m - 1) + [int(ts.StepType.LAST)]


def test_truncation_at_max_steps_keeps_discount_one():
    env, sim, _ = fake_env(max_steps=7)
    env.reset()
    steps = [env.step(np.int32(0)) for _ in range(7)]
    assert [bool(s.is_last()) for s in steps] == [False] * 6 + [True]
    assert float(steps[-1].discount) == 1.0
    assert env.episode_summary()['end_reason'] == 'max_steps'
    assert env.step(np.int32(0)).is_first()
    assert len(sim.resets) == 2


def test_lost_observation_keeps_the_side_the_line_was_last_seen():
    env, sim, _ = fake_env(columns=(100.0, 540.0, 300.0))
    env.reset()
    env.step(np.int32(0))
    sim.columns = [None, None, None]
    obs = env.step(np.int32(0)).observation
    assert obs[:3].tolist() == [-1.0, 1.0, -1.0]
    obs = env.step(np.int32(0)).observation   # still lost: still on that side
    assert obs[:3].tolist() == [-1.0, 1.0, -1.0]
    assert env.observation_spec().check_array(obs)


def test_wrong_way_ends_the_episode(simple_circuit):
    c = simple_circuit
    n = len(c.points)
    start = 500
    # Ground truth poses going backwards along the line, 0.5 m per step.
    poses = [Pose2D(*c.points[(start - 5 * k) % n], 0.0) for k in range(40)]
    env, sim, cfg = fake_env(circuit=c, poses=poses, start=float(c.s[start] / c.length))
    env.reset()
    for k in range(1, 40):
        step = env.step(np.int32(0))
        if step.is_last():
            break
    assert env.episode_summary()['end_reason'] == 'wrong_way'
    assert float(step.discount) == 0.0
    assert 5.0 < -float(env.get_info()['progress']) * c.length < 6.0
    assert int(env.get_info()['laps']) == 0


# --- start poses ------------------------------------------------------------------------------

def test_fixed_start_fraction(simple_circuit):
    env, sim, _ = fake_env(circuit=simple_circuit, start=0.25)
    env.reset()
    assert sim.resets[-1] == Pose2D(*simple_circuit.pose_at(0.25))
    assert env.start_fraction == 0.25


def test_random_starts_cover_the_lap(simple_circuit):
    env, sim, _ = fake_env(circuit=simple_circuit)
    fractions = []
    for _ in range(40):
        env.reset()
        fractions.append(env.start_fraction)
    assert all(0.0 <= f < 1.0 for f in fractions)
    assert len(set(fractions)) == 40
    assert min(fractions) < 0.2 and max(fractions) > 0.8
    for f, pose in zip(fractions, sim.resets):
        assert pose == Pose2D(*simple_circuit.pose_at(f))  # on the line, facing forwards


def test_randomised_start_offsets_are_bounded(simple_circuit, cfg):
    env, sim, cfg = fake_env(circuit=simple_circuit, randomization={'enabled': True})
    rz = cfg.randomization
    from rl_f1_driver.track import TrackTracker
    tr = TrackTracker(simple_circuit)
    lats = []
    for _ in range(30):
        env.reset()
        p = sim.resets[-1]
        st = tr.reset(p.x, p.y, p.yaw)
        lats.append(st.lateral)
        assert abs(st.lateral) <= rz.start_offset + 0.02
        assert abs(st.heading_error) <= rz.start_heading + 0.02
    assert np.std(lats) > rz.start_offset / 4


# --- the whole chain: embedded sim + perception + env -----------------------------------------

def drive_a_lap(env, max_steps=2500):
    step = env.reset()
    assert float(env.get_info()['progress']) == 0.0
    for i in range(max_steps):
        step = env.step(steer_to_line(env, step.observation))
        info = env.get_info()
        if bool(info['lap_completed']):
            return i + 1, info
        assert not step.is_last(), env.episode_summary()
    raise AssertionError(f'no lap in {max_steps} steps: {env.episode_summary()}')


def test_proportional_controller_completes_a_lap_of_simple():
    env = rl_f1_driver.make_env(track='simple', observation='lines', seed=0, start=0.0,
                                **FORWARD)
    steps, info = drive_a_lap(env)
    assert int(info['laps']) == 1 and float(info['progress']) >= 1.0
    assert abs(float(info['lateral'])) < 1.0
    s = env.episode_summary()
    assert s['laps_completed'] == 1
    assert s['lap_time_s'] == pytest.approx(steps * 0.05)
    assert s['max_abs_deviation_m'] < env.circuit.road_width / 2
    # A lap needs at least the lap length at the top speed of the action set.
    assert steps * 0.05 * float(env.actions[:, 0].max()) >= env.circuit.length


def test_reversed_custom_circuit_file_is_drivable(tmp_path):
    import yaml
    from rl_f1_driver.paths import circuits_dir
    data = yaml.safe_load((circuits_dir() / 'simple.yaml').read_text())
    data['name'] = 'simple_reversed'
    data['centerline'] = data['centerline'][::-1]
    path = write_yaml(tmp_path, 'simple_reversed.yaml', data)
    env = rl_f1_driver.make_env(track=str(path), seed=1, start=0.3, **FORWARD)
    assert env.circuit.name == 'simple_reversed'
    assert env.circuit.length == pytest.approx(load_circuit('simple').length, rel=1e-6)
    steps, info = drive_a_lap(env)
    assert int(info['laps']) == 1


def test_image_observation_shows_the_line_where_it_is():
    c = load_circuit(STRAIGHT_OVAL)
    i = int(np.argmin(np.linalg.norm(c.points - (50.0, 0.0), axis=1)))
    env = rl_f1_driver.make_env(track=str(STRAIGHT_OVAL), observation='image', seed=0,
                                start=float(c.s[i] / c.length), **FORWARD)
    obs = env.reset().observation
    assert np.array_equal(obs[..., 0], obs[..., -1])   # the stack starts filled with frame 1
    mask = obs[..., -1].astype(float)
    cols = np.arange(mask.shape[1]) + 0.5
    centre = (mask.sum(0) * cols).sum() / mask.sum()
    assert centre == pytest.approx(mask.shape[1] / 2, abs=0.5)
    # Turning left swings the line to the right of the mask; the newest mask is last.
    for _ in range(6):
        obs = env.step(np.int32(5)).observation   # action 5: [2.0, +1.5]
    mask = obs[..., -1].astype(float)
    assert (mask.sum(0) * cols).sum() / mask.sum() > mask.shape[1] / 2 + 2
    assert not np.array_equal(obs[..., 0], obs[..., -1])


def test_info_after_reset_and_step():
    env = rl_f1_driver.make_env(seed=0)
    env.reset()
    info = env.get_info()
    assert set(info) == {'lap_completed', 'laps', 'progress', 'lateral', 'heading_error',
                         'speed'}
    assert not bool(info['lap_completed']) and int(info['laps']) == 0
    env.step(np.int32(0))
    info = env.get_info()
    assert float(info['progress']) > 0 and float(info['speed']) > 0


# --- determinism ------------------------------------------------------------------------------

def _rollout(seed, observation='lines', n=300):
    env = rl_f1_driver.make_env(track='simple', observation=observation, seed=seed,
                                randomize=True, max_steps=120)
    actions = np.random.default_rng(123).integers(0, len(env.actions), n).astype(np.int32)
    step = env.reset()
    obs, rewards, types = [step.observation], [], []
    for a in actions:
        # Mostly steer, sometimes random, so episodes are neither all lost nor all alike.
        act = steer_to_line(env, step.observation) if observation == 'lines' and a < 4 else a
        step = env.step(act)
        obs.append(step.observation)
        rewards.append(float(step.reward))
        types.append(int(step.step_type))
    return np.array(obs), np.array(rewards), types


@pytest.mark.parametrize('observation', ['lines', 'image'])
def test_same_seed_same_trajectory_different_seed_different(observation):
    o1, r1, t1 = _rollout(7, observation)
    o2, r2, t2 = _rollout(7, observation)
    o3, r3, _ = _rollout(8, observation)
    assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and t1 == t2
    assert t1.count(int(ts.StepType.FIRST)) >= 2   # several episodes (resets re-randomise)
    assert not np.array_equal(o1, o3) and not np.array_equal(r1, r3)


def test_make_env_takes_a_config_file_and_keyword_overrides(tmp_path):
    path = write_yaml(tmp_path, 'c.yaml', {'env': {'max_steps': 11, 'observation': 'image'},
                                           'seed': 5})
    env = rl_f1_driver.make_env(config=path, observation='lines')
    assert env.config.env.max_steps == 11 and env.config.seed == 5
    assert env.config.env.observation == 'lines'   # keyword beats the file
    cfg = load_config(path)
    env = rl_f1_driver.make_env(config=cfg, max_steps=12, track=str(STRAIGHT_OVAL))
    assert env.config.env.max_steps == 12 and env.circuit.name == 'straight_oval'


def test_make_env_bad_track_is_a_user_error():
    from rl_f1_driver.errors import UserError
    with pytest.raises(UserError, match='monza'):
        rl_f1_driver.make_env(track='monza')


def test_ground_truth_starts_with_the_first_frame_that_has_a_pose():
    """A backend whose reset frame has no pose (Gazebo odometry not matched yet) must not
    carry progress or laps over from the previous episode."""
    from dataclasses import replace

    from rl_f1_driver import make_env

    env = make_env(track='simple', seed=0, start=0.0, direction='forward')
    sim = env.sim
    real_reset = sim.reset

    def reset_without_pose(pose):
        return replace(real_reset(pose), pose=None)

    env.reset()
    for _ in range(100):
        env.step(np.int32(0))
    assert env.get_info()['progress'] > 0.05
    sim.reset = reset_without_pose
    env.reset()
    assert env.get_info() == {}
    env.step(np.int32(0))  # first posed frame: tracking starts here
    env.step(np.int32(0))
    assert abs(float(env.get_info()['progress'])) < 0.01

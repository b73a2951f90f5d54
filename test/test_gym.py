"""rl_f1_driver.gym: the Gymnasium adapter (RlF1/FollowLine-v0) over F1FollowLineEnv."""
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

gymnasium = pytest.importorskip('gymnasium')
from gymnasium.error import ResetNeeded  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from rl_f1_driver.gym import ENV_ID, FollowLineEnv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FORWARD = {'start': 0.0, 'direction': 'forward'}


def _gym_warnings(record):
    return [str(w.message) for w in record if 'WARN' in str(w.message)]


@pytest.mark.parametrize('observation', ['lines', 'image'])
def test_check_env_unwrapped_and_made(observation):
    env = FollowLineEnv(observation=observation, track='simple')
    check_env(env, skip_render_check=True)  # no spec: make() below checks the render modes
    env.close()
    made = gymnasium.make(ENV_ID, observation=observation, track='simple')
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        check_env(made.unwrapped)  # with a spec: render modes and close checked too
    assert _gym_warnings(record) == []
    made.close()
    rendering = gymnasium.make(ENV_ID, observation=observation, render_mode='rgb_array')
    check_env(rendering.unwrapped)
    rendering.close()


def test_spaces_follow_the_env_specs():
    env = FollowLineEnv(observation='lines')
    spec = env.py_env.observation_spec()
    assert env.observation_space.dtype == np.float32
    assert env.observation_space.shape == spec.shape == (5,)
    assert np.all(env.observation_space.low == -1.0) and np.all(env.observation_space.high == 1.0)
    assert env.action_space == gymnasium.spaces.Discrete(len(env.config.actions))
    image = FollowLineEnv(observation='image', **{'env.stack': 3})
    p = image.config.perception
    assert image.observation_space.dtype == np.uint8
    assert image.observation_space.shape == (p.mask_height, p.mask_width, 3)
    assert np.all(image.observation_space.low == 0) and np.all(image.observation_space.high == 255)
    obs, _ = image.reset(seed=0)
    assert obs in image.observation_space
    assert env.metadata['render_fps'] == env.config.camera.rate_hz


def test_made_by_module_path_and_config_keywords(tmp_path):
    cfg = tmp_path / 'mine.yaml'
    cfg.write_text('env:\n  max_steps: 7\n')
    env = gymnasium.make(f'rl_f1_driver.gym:{ENV_ID}', config=str(cfg), track='hairpins',
                         **{'reward.speed_weight': 0.0})
    c = env.unwrapped.config
    assert (c.env.max_steps, c.track, c.reward.speed_weight) == (7, 'hairpins', 0.0)
    env.close()
    with pytest.raises(Exception, match='unknown setting'):
        FollowLineEnv(no_such_setting=1)


def _rollout(env, seed, steps=60):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(1)
    observations, rewards = [obs], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            obs, info = env.reset()
            observations.append(obs)
    return np.stack(observations), np.array(rewards)


@pytest.mark.parametrize('observation', ['lines', 'image'])
def test_seeded_rollouts_repeat(observation):
    # Random start pose and direction, domain randomisation (light, hue, width, pixel noise).
    env = FollowLineEnv(observation=observation, randomize=True, seed=0)
    obs_a, rew_a = _rollout(env, seed=11)
    obs_b, rew_b = _rollout(env, seed=11)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    # reset(seed=s) starts as an env built with seed s does.
    fresh = FollowLineEnv(observation=observation, randomize=True, seed=11)
    np.testing.assert_array_equal(fresh.reset()[0], obs_a[0])
    # Another seed, another drive.
    obs_c, _ = _rollout(env, seed=12)
    assert not np.array_equal(obs_a[:len(obs_c)], obs_c[:len(obs_a)])
    # After a seeded reset, unseeded resets go on reproducibly (new start poses each time).
    starts = []
    for _ in range(2):
        env.reset(seed=5)
        starts.append([env.reset()[1]['start_fraction'] for _ in range(3)])
    assert starts[0] == starts[1] and len(set(starts[0])) == 3


def test_bad_actions_raise_clear_errors():
    env = FollowLineEnv()
    with pytest.raises(ResetNeeded, match='reset'):
        env.step(0)
    env.reset(seed=0)
    n = env.action_space.n
    for bad in (n, -1, np.int64(n)):
        with pytest.raises(ValueError, match=rf'action {int(bad)} is out of range.*\[0, {n}\)'):
            env.step(bad)
    for bad in (1.5, '1', True, np.array([1, 2]), None):
        with pytest.raises(TypeError, match='expected an integer action'):
            env.step(bad)
    made = gymnasium.make(ENV_ID)
    made.reset(seed=0)
    with pytest.raises(ValueError, match='out of range'):
        made.step(n)
    # Integers of any kind are fine.
    for good in (0, np.int64(1), np.array(2), np.int32(3)):
        env.step(good)
    with pytest.raises(ValueError, match='seed'):
        env.reset(seed=-1)
    with pytest.raises(ValueError, match='options'):
        env.reset(options={'start': 0.5})


def test_driving_off_the_road_terminates():
    # Straight ahead from the start of the oval's straight: off the road in the first corner
    # (the lost-line rule is pushed out of the way so the crash is what ends it).
    env = FollowLineEnv(track='simple', lost_frames=1000, **FORWARD)
    env.reset(seed=0)
    for _ in range(2000):
        obs, reward, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            break
    assert terminated and not truncated
    assert info['end_reason'] == 'off_road'
    assert info['deviation'] > env.py_env.circuit.road_width / 2
    assert reward < 0  # lost_penalty
    assert info['episode_summary']['end_reason'] == 'off_road'
    with pytest.raises(ResetNeeded, match=r'ended \(off_road\)'):
        env.step(0)
    env.reset()
    env.step(0)  # a reset starts the next episode


def test_losing_the_line_terminates():
    env = FollowLineEnv(track='simple', **FORWARD)
    env.reset(seed=0)
    tight_left = int(np.argmax(np.asarray(env.config.actions)[:, 1]))
    for _ in range(500):
        _, _, terminated, truncated, info = env.step(tight_left)
        if terminated or truncated:
            break
    assert terminated and not truncated and info['end_reason'] == 'line_lost'


def test_step_limit_truncates():
    env = gymnasium.make(ENV_ID, track='simple', max_steps=5, **FORWARD)
    obs, info = env.reset(seed=0)
    assert info['end_reason'] == '' and info['steps'] == 0 and info['direction'] == 'forward'
    for i in range(5):
        obs, reward, terminated, truncated, info = env.step(0)
        assert not terminated
        assert truncated == (i == 4)
    assert info['end_reason'] == 'max_steps' and info['steps'] == 5
    assert reward > 0  # a time limit is no failure: no penalty
    for key in ('laps', 'progress', 'deviation', 'lateral', 'heading_error', 'speed'):
        assert key in info
    assert info['speed'] > 0 and info['progress'] > 0 and info['laps'] == 0


def _pid_like(obs, actions, weights=(0.6, 0.3, 0.1), kp=1.6):
    """A proportional controller on the `lines` observation, snapped to the nearest action
    (positive error: the line is right of centre, so turn right, w < 0)."""
    want = -kp * float(np.dot(weights, obs[:3]))
    return int(np.argmin(np.abs(actions[:, 1] - want) - 1e-3 * actions[:, 0]))


def test_a_pid_like_policy_laps():
    env = gymnasium.make(ENV_ID, track='simple', laps=1, max_steps=3000, **FORWARD)
    actions = np.asarray(env.unwrapped.config.actions)
    obs, info = env.reset(seed=0)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(_pid_like(obs, actions))
        total += reward
        if terminated or truncated:
            break
    assert terminated and info['end_reason'] == 'laps_done'
    assert info['laps'] == 1 and info['lap_completed']
    summary = info['episode_summary']
    assert summary['laps_completed'] == 1 and summary['lap_time_s'] > 0
    assert summary['mean_abs_deviation_m'] < 0.5
    assert total == pytest.approx(summary['return'], rel=1e-4)
    env.close()


def test_render_rgb_array():
    env = gymnasium.make(ENV_ID, render_mode='rgb_array', track='simple', **FORWARD)
    env.reset(seed=0)
    cam = env.unwrapped.config.camera
    for _ in range(3):
        frame = env.render()
        assert frame.shape == (cam.height, cam.width, 3) and frame.dtype == np.uint8
        env.step(0)
    plain = FollowLineEnv(render_mode='rgb_array', overlay=False, track='simple', **FORWARD)
    plain.reset(seed=0)
    raw = plain.render()
    # RGB: the sky at the top is blue, the road at the bottom grey, the red line red.
    r, g, b = raw[5, cam.width // 2].astype(int)
    assert b > r
    bottom = raw[-5]
    red = bottom[(bottom[:, 0] > 120) & (bottom[:, 1] < 80) & (bottom[:, 2] < 80)]
    assert len(red) > 0
    with pytest.warns(UserWarning, match='render_mode'):
        assert FollowLineEnv().render() is None
    with pytest.raises(ResetNeeded):
        FollowLineEnv(render_mode='rgb_array').render()
    with pytest.raises(ValueError, match='render_mode'):
        FollowLineEnv(render_mode='human')


@pytest.mark.parametrize('observation', ['lines', 'image'])
@pytest.mark.parametrize('randomize', [False, True])
def test_rendering_does_not_change_the_drive(observation, randomize):
    plain = FollowLineEnv(observation=observation, seed=3, randomize=randomize)
    shown = FollowLineEnv(observation=observation, seed=3, randomize=randomize,
                          render_mode='rgb_array')
    a, _ = plain.reset()
    b, _ = shown.reset()
    np.testing.assert_array_equal(a, b)
    for i in range(40):
        shown.render()
        ra, rb = plain.step(i % 3), shown.step(i % 3)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1:4] == rb[1:4]
        if ra[2] or ra[3]:
            break


def test_close_twice():
    env = FollowLineEnv()
    env.close()
    env.close()


def test_import_does_not_load_tensorflow():
    code = ('import sys, gymnasium, rl_f1_driver.gym as g; '
            'assert g.ENV_ID in gymnasium.registry; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("tensorflow", "tf_agents")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'

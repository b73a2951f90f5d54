"""DQN on F1FollowLineEnv with tf-agents, readable top to bottom (after train_eval.py).

`run_training` is the one training loop: run directory, agent, checkpoints, evaluations,
progress, TensorBoard, signals, export and report. Where the experience comes from is an
`ExperienceSource`:
- `LocalSource` (here, `rl-f1 train`): collection and learning run inside one
  `common.function`: a tf-agents driver steps a batch of environments and the agent trains on
  replay samples, many iterations per Python call. A plain Python loop of collect_step +
  agent.train is about 7x slower on this kind of machine.
- `distributed.learner.RaySource` (`rl-f1 learner`, `rl-f1 train --actors N`): actors
  fill the replay service on Ray and the learner samples it.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from ..config import Config, to_dict
from ..config.loader import build
from ..env import F1FollowLineEnv, env_from_config
from ..env.termination import lap_step_budget
from ..errors import ConfigError, UserError
from ..interrupts import InterruptCounter, clear_stop_request, request_stop
from ..track import load_circuit
from .run_dir import (STATE_FILE, checkpoint_versions, prepare_run_dir, restore_failure,
                      stack_versions, write_json)

EnvFactory = Callable[[Config, int], F1FollowLineEnv]
EVAL_INDEX = -1  # env_factory(cfg, EVAL_INDEX) builds the evaluation environment


def evaluation_config(cfg: Config, direction: Optional[str] = None) -> Config:
    """Greedy evaluation: from the start line, in the circuit's direction, no randomisation,
    with time for a lap."""
    raw = to_dict(cfg)
    budget = lap_step_budget(load_circuit(cfg.track).length, 1, cfg.camera.control_period)
    raw['env']['start'] = 0.0
    raw['env']['direction'] = direction or (
        'forward' if cfg.env.direction == 'random' else cfg.env.direction)
    raw['env']['max_steps'] = max(cfg.train.eval_max_steps, budget)
    raw['randomization']['enabled'] = False
    return build(raw)


def default_env_factory(cfg: Config, index: int) -> F1FollowLineEnv:
    return env_from_config(cfg, seed_offset=index)


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it between chunks and saves before leaving."""

    def __init__(self):
        self.signal: Optional[int] = None
        self._old: dict = {}
        self._interrupts = InterruptCounter()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame):
        if not self._interrupts.record():   # the same Ctrl-C delivered twice (ros2 launch)
            return
        if self.signal is not None:  # second Ctrl-C: leave now
            raise KeyboardInterrupt
        self.signal = signum
        request_stop()

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        clear_stop_request()


class _SaveOnSimulatorLoss:
    """Context: when the body fails because the simulator was lost, save and re-raise that."""

    def __init__(self, lost: Callable[[], Optional[BaseException]], checkpointer, global_step,
                 save_state: Callable[[str], None], export: Callable[[], None],
                 log: Callable[[str], None]):
        self.lost, self.checkpointer, self.global_step = lost, checkpointer, global_step
        self.save_state, self.export, self.log = save_state, export, log

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        cause = self.lost()
        if cause is None:
            return False
        self.checkpointer.save(global_step=self.global_step)
        self.save_state(f'simulator_lost: {cause}')
        # The network needs no simulator: the policy as trained so far is exported too
        # (without a final evaluation, which would need one).
        self.export()
        self.log(f'the simulator was lost: checkpoint and policy saved at gradient step '
                 f'{int(self.global_step.numpy()):,}; continue with --resume once it is back')
        raise cause from None


class ExperienceSource(Protocol):
    """Where the learner's experience comes from; the training loop does not know more."""

    #: training environments held in this process (a backend with one physical car shares
    #: its simulator with the evaluation environments)
    envs: list

    def specs(self) -> tuple: ...                       # (time_step_spec, action_spec)
    def attach(self, agent, global_step, env_steps) -> None: ...
    def checkpoint_items(self) -> dict: ...
    def warm_up(self, resume: bool, log: Callable[[str], None]) -> None: ...
    def advance(self, target_env_steps: int) -> float: ...   # learn towards it; the loss
    def training_metrics(self) -> tuple: ...            # (average return, length, episodes)
    def progress_text(self) -> str: ...                 # extra text for the progress line
    def after_evaluation(self) -> None: ...
    def failure(self) -> Optional[BaseException]: ...   # the simulator lost, if it was
    def report(self) -> dict: ...                       # extra fields of report.json
    def finish(self, stopped: str) -> None: ...          # training ended (why)
    def close(self) -> None: ...


def check_local_config(cfg: Config) -> None:
    tc = cfg.train
    if tc.collect_steps_per_iteration % tc.num_envs:
        raise ConfigError(f'train.collect_steps_per_iteration ({tc.collect_steps_per_iteration})'
                          f' must be a multiple of train.num_envs ({tc.num_envs})')


class LocalSource:
    """Environments stepped in this process by a tf-agents driver, a uniform replay buffer in
    memory; collection and gradient steps in one graph."""

    def __init__(self, cfg: Config, factory: EnvFactory):
        from tf_agents.environments import batched_py_environment, tf_py_environment
        tc = self.tc = cfg.train
        self.cfg = cfg
        check_local_config(cfg)
        self.envs = [factory(cfg, i) for i in range(tc.num_envs)]
        batch_env = (batched_py_environment.BatchedPyEnvironment(self.envs, multithreading=False)
                     if tc.num_envs > 1 else self.envs[0])
        self.tf_env = tf_py_environment.TFPyEnvironment(batch_env)

    def specs(self) -> tuple:
        return self.tf_env.time_step_spec(), self.tf_env.action_spec()

    def attach(self, agent, global_step, env_steps) -> None:
        import tensorflow as tf
        from tf_agents.drivers import dynamic_step_driver
        from tf_agents.metrics import tf_metrics
        from tf_agents.policies import random_tf_policy
        from tf_agents.replay_buffers import tf_uniform_replay_buffer
        from tf_agents.utils import common
        tc, tf_env = self.tc, self.tf_env
        self.env_steps = env_steps
        self.replay = replay = tf_uniform_replay_buffer.TFUniformReplayBuffer(
            agent.collect_data_spec, batch_size=tc.num_envs,
            max_length=max(1, tc.replay_capacity // tc.num_envs))
        self.returns = tf_metrics.AverageReturnMetric(batch_size=tc.num_envs, buffer_size=20)
        self.lengths = tf_metrics.AverageEpisodeLengthMetric(batch_size=tc.num_envs,
                                                             buffer_size=20)
        self.episodes = tf_metrics.NumberOfEpisodes()

        def count_steps(traj):
            # Boundary transitions are auto-resets, not driving: the driver does not count
            # them towards its num_steps either.
            env_steps.assign_add(tf.reduce_sum(tf.cast(~traj.is_boundary(), tf.int64)))

        observers = [replay.add_batch, count_steps, self.returns, self.lengths, self.episodes]
        collect_driver = dynamic_step_driver.DynamicStepDriver(
            tf_env, agent.collect_policy, observers=observers,
            num_steps=tc.collect_steps_per_iteration)
        random_driver = dynamic_step_driver.DynamicStepDriver(
            tf_env, random_tf_policy.RandomTFPolicy(tf_env.time_step_spec(),
                                                    tf_env.action_spec()),
            observers=observers, num_steps=tc.num_envs)

        @common.function(autograph=True)
        def collect_random(n):
            for _ in tf.range(n):
                random_driver.run()

        @common.function(autograph=True)
        def train_chunk(n):
            loss = tf.constant(0.0)
            for _ in tf.range(n):
                collect_driver.run()
                experience, _ = replay.get_next(sample_batch_size=tc.batch_size,
                                                num_steps=tc.n_step + 1)
                loss = agent.train(experience).loss
            return loss

        self._collect_random, self._train_chunk = collect_random, train_chunk

    def checkpoint_items(self) -> dict:
        import tensorflow as tf
        items = dict(metrics=tf.train.Checkpoint(returns=self.returns, lengths=self.lengths,
                                                 episodes=self.episodes))
        if self.tc.checkpoint_replay_buffer:
            items['replay_buffer'] = self.replay
        return items

    def warm_up(self, resume: bool, log: Callable[[str], None]) -> None:
        import tensorflow as tf
        tc, env_steps = self.tc, self.env_steps
        if (int(self.replay.num_frames().numpy()) < tc.initial_collect_steps
                and int(env_steps.numpy()) < tc.steps):
            n = math.ceil(tc.initial_collect_steps / tc.num_envs)
            log(f'{"refilling the replay buffer with" if resume else "collecting"} '
                f'{n * tc.num_envs:,} random steps on {self.cfg.track} '
                f'({tc.num_envs} environment{"s" if tc.num_envs > 1 else ""}, '
                f'{self.cfg.env.observation} observation)')
            before = env_steps.numpy()
            self._collect_random(tf.constant(n))
            if resume:
                # The buffer was not checkpointed: refilling it is not progress, so the step
                # counter and the schedules on it stay where the checkpoint left them.
                env_steps.assign(before)

    def advance(self, target_env_steps: int) -> float:
        import tensorflow as tf
        done = int(self.env_steps.numpy())
        n = max(1, math.ceil((target_env_steps - done) / self.tc.collect_steps_per_iteration))
        return float(self._train_chunk(tf.constant(n)).numpy())

    def training_metrics(self) -> tuple:
        return (float(self.returns.result()), float(self.lengths.result()),
                int(self.episodes.result()))

    def progress_text(self) -> str:
        return ''

    def after_evaluation(self) -> None:
        self.tf_env.reset()

    def failure(self) -> Optional[BaseException]:
        return next((e.sim.failure for e in self.envs if e.sim.failure is not None), None)

    def report(self) -> dict:
        return {}

    def finish(self, stopped: str) -> None:
        pass

    def close(self) -> None:
        pass


def train(cfg: Config, out_dir: Path, *, resume: bool = False,
          env_factory: Optional[EnvFactory] = None,
          allow_config_change: bool = False,
          log: Callable[[str], None] = lambda s: print(s, flush=True),
          monitor: Optional[Any] = None) -> dict:  # monitor: record.monitor.TrainMonitor
    """Train in this process, evaluate, checkpoint and export into `out_dir`; return the
    report dict.

    `env_factory(cfg, i)` builds training environment i (0..num_envs-1) and, with
    i <= EVAL_INDEX, the evaluation environments (forward, and reverse when training both ways).
    A backend with one physical car may return environments sharing one simulator.
    """
    check_local_config(cfg)  # before the run directory is touched
    factory = env_factory or default_env_factory
    if monitor is not None:  # monitor: training env 0 in the live view
        factory = monitor.wrap_env_factory(factory)

    def source() -> LocalSource:
        return LocalSource(cfg, factory)

    return run_training(cfg, out_dir, source, resume=resume, eval_factory=factory,
                        allow_config_change=allow_config_change, log=log, monitor=monitor)


def run_training(cfg: Config, out_dir: Path, make_source: Callable[[], ExperienceSource], *,
                 resume: bool = False, eval_factory: Optional[EnvFactory] = None,
                 allow_config_change: bool = False,
                 log: Callable[[str], None] = lambda s: print(s, flush=True),
                 monitor: Optional[Any] = None) -> dict:
    """The training loop over any experience source (see the module docstring)."""
    import tensorflow as tf
    from tf_agents.utils import common

    from .agent import build_agent, greedy_act
    from .evaluation import evaluate
    from .export import export_policy
    from .plots import plot_learning_curve, plot_trajectory

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    tc = cfg.train
    state = prepare_run_dir(out_dir, cfg, resume, allow_config_change)
    factory = eval_factory or default_env_factory
    tf.random.set_seed(cfg.seed)

    # --- environments ----------------------------------------------------------------------
    source = make_source()
    stop = _StopFlag()   # its signal handlers are installed below; waits in a source end early
    source.should_stop = lambda: stop.signal is not None
    eval_env = factory(evaluation_config(cfg), EVAL_INDEX)
    # Trained in both directions: evaluate both, and stop early only when both are driven.
    reverse_env = (factory(evaluation_config(cfg, 'reverse'), EVAL_INDEX - 1)
                   if cfg.env.direction == 'random' else None)
    shares_sim = any(ev.sim is e.sim for e in source.envs for ev in (eval_env, reverse_env)
                     if ev)
    circuit = eval_env.circuit or load_circuit(cfg.track)

    # --- agent -----------------------------------------------------------------------------
    global_step = tf.Variable(0, dtype=tf.int64, name='global_step')
    env_steps = tf.Variable(0, dtype=tf.int64, name='env_steps')
    time_step_spec, action_spec = source.specs()
    agent, epsilon = build_agent(cfg, time_step_spec, action_spec, env_steps, global_step)
    source.attach(agent, global_step, env_steps)
    act = greedy_act(agent.policy)

    # --- checkpoints -----------------------------------------------------------------------
    ckpt_items = dict(agent=agent, global_step=global_step, env_steps=env_steps,
                      **source.checkpoint_items())
    ckpt_dir = out_dir / 'checkpoints'
    if not resume and ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
        # Reached only with --allow-config-change. tf-agents' Checkpointer restores whatever it
        # finds, so the old run's checkpoints are moved aside (kept, not deleted).
        aside = out_dir / f'checkpoints.replaced-{time.strftime("%Y%m%d-%H%M%S")}'
        ckpt_dir.rename(aside)
        log(f'starting afresh: the previous checkpoints were moved to {aside}')
    versions = stack_versions()
    try:
        checkpointer = common.Checkpointer(ckpt_dir=str(ckpt_dir), max_to_keep=2, **ckpt_items)
    except (ValueError, tf.errors.OpError) as exc:
        raise UserError(restore_failure(ckpt_dir, str(exc), checkpoint_versions(out_dir, state),
                                        versions)) from None
    if resume:
        log(f'resumed from {checkpointer.manager.latest_checkpoint} at env step '
            f'{int(env_steps.numpy()):,}, gradient step {int(global_step.numpy()):,}')

    history: list = state.get('evaluations', [])
    train_curve: list = [tuple(x) for x in state.get('train_returns', [])]
    first_lap = state.get('first_lap')
    wall_before = float(state.get('train_wall_s', 0.0))
    tb = tf.summary.create_file_writer(str(out_dir / 'tensorboard'))

    def wall() -> float:
        return wall_before + time.perf_counter() - t0

    def save_state(stopped: str = '') -> None:
        write_json(out_dir / STATE_FILE, {
            'env_steps': int(env_steps.numpy()), 'gradient_steps': int(global_step.numpy()),
            'train_wall_s': wall(), 'first_lap': first_lap, 'evaluations': history,
            'train_returns': train_curve, 'stopped': stopped, 'versions': versions})

    def run_evaluation() -> dict:
        """Greedy laps in each direction trained; the forward one is the headline figure."""
        nonlocal first_lap
        t_eval = time.perf_counter()
        rec = monitor.evaluation(int(env_steps.numpy())) if monitor else None  # monitor:
        if reverse_env is None:
            result, reverse = evaluate([eval_env], act, recorders=rec)[0], None
        elif shares_sim:  # one physical car: one direction after the other
            result, reverse = (evaluate([eval_env], act, recorders=rec)[0],
                               evaluate([reverse_env], act, recorders=rec)[0])
        else:
            result, reverse = evaluate([eval_env, reverse_env], act, recorders=rec)
        if shares_sim:  # one physical car (Gazebo): put it back on a training episode
            source.after_evaluation()
        entry = {k: v for k, v in result.items() if k != 'path'}
        if reverse is not None:
            entry['reverse_completion'] = reverse['completion']
            entry['reverse_lap_time_s'] = reverse['lap_time_s']
        entry.update(env_steps=int(env_steps.numpy()), gradient_steps=int(global_step.numpy()),
                     wall_s=round(wall(), 2), eval_s=round(time.perf_counter() - t_eval, 2))
        history.append(entry)
        if result['laps_completed'] >= 1 and first_lap is None:
            first_lap = {'time_s': entry['wall_s'], 'env_steps': entry['env_steps']}
        with tb.as_default(step=entry['env_steps']):
            for key in ('completion', 'return', 'mean_abs_deviation_m', 'mean_speed_mps',
                        'reverse_completion'):
                if key in entry:
                    tf.summary.scalar(f'eval/{key}', float(entry[key] or 0.0))
            if entry['lap_time_s'] is not None:
                tf.summary.scalar('eval/lap_time_s', entry['lap_time_s'])
        lap = f'{entry["lap_time_s"]:.1f} s lap' if entry['lap_time_s'] else 'no lap'
        rev = (f'; reverse {100 * (reverse["completion"] or 0):.0f}%'
               if reverse is not None else '')
        log(f'  eval @ {entry["env_steps"]:,}: {100 * (entry["completion"] or 0):.0f}% of lap, '
            f'{lap}, |dev| mean {entry["mean_abs_deviation_m"]:.2f} m max '
            f'{entry["max_abs_deviation_m"]:.2f} m, {entry["mean_speed_mps"]:.1f} m/s, '
            f'return {entry["return"]:.1f} ({entry["end_reason"]}){rev}')
        result['entry'] = entry
        result['all_laps'] = result['laps_completed'] >= 1 and (
            reverse is None or reverse['laps_completed'] >= 1)
        return result

    def lost_simulator() -> Optional[BaseException]:
        lost = source.failure()
        if lost is not None:
            return lost
        envs = [e for e in (eval_env, reverse_env) if e is not None]
        return next((e.sim.failure for e in envs if e.sim.failure is not None), None)

    def export() -> None:
        export_policy(agent.policy, out_dir / 'policy', cfg, global_step)

    # Ctrl-C / SIGTERM from here on end the run cleanly: checkpoint, policy, report.
    # A simulator lost on the way (a ROS backend whose camera stopped) ends it too, with the
    # checkpoint, state and policy saved for --resume, and the backend's own error (the
    # TensorFlow graph around the environment wraps it in an op error).
    try:
        with stop, _SaveOnSimulatorLoss(lost_simulator, checkpointer, global_step, save_state,
                                        export, log):
            # --- initial random collection -----------------------------------------------------
            source.warm_up(resume, log)

            # --- main loop ---------------------------------------------------------------------
            stopped = 'steps_done'
            last_result = None
            loop_s, loop_steps, loop_grads = 0.0, 0, 0  # inside collect+train calls only
            next_eval = (int(env_steps.numpy()) // tc.eval_interval + 1) * tc.eval_interval
            next_ckpt = ((int(env_steps.numpy()) // tc.checkpoint_interval + 1)
                         * tc.checkpoint_interval)
            next_log = (int(env_steps.numpy()) // tc.log_interval + 1) * tc.log_interval
            log(f'training {cfg.env.observation} DQN on {cfg.track} for {tc.steps:,} env steps '
                f'-> {out_dir}')
            if stop.signal is None and int(env_steps.numpy()) < tc.steps:
                # One iteration first: it traces the graph (seconds), which is not throughput.
                source.advance(int(env_steps.numpy()) + 1)
            window_t, window_steps, window_grads = time.perf_counter(), int(env_steps.numpy()), \
                int(global_step.numpy())
            while True:
                done = int(env_steps.numpy())
                if done >= tc.steps:
                    break
                if stop.signal is not None:
                    stopped = 'interrupted'
                    break
                target = min(tc.steps, next_eval, next_ckpt, next_log)
                t_chunk, g_chunk = time.perf_counter(), int(global_step.numpy())
                loss = source.advance(target)
                loop_s += time.perf_counter() - t_chunk
                loop_steps += int(env_steps.numpy()) - done
                loop_grads += int(global_step.numpy()) - g_chunk
                done = int(env_steps.numpy())
                if done >= next_log or done >= tc.steps:
                    now = time.perf_counter()
                    dt = max(1e-9, now - window_t)
                    sps = (done - window_steps) / dt
                    gps = (int(global_step.numpy()) - window_grads) / dt
                    window_t, window_steps, window_grads = now, done, int(global_step.numpy())
                    avg_ret, avg_len, n_episodes = source.training_metrics()
                    train_curve.append((done, avg_ret))
                    with tb.as_default(step=done):
                        tf.summary.scalar('train/loss', loss)
                        tf.summary.scalar('train/epsilon', float(epsilon()))
                        tf.summary.scalar('train/env_steps_per_s', sps)
                        tf.summary.scalar('train/gradient_steps_per_s', gps)
                        tf.summary.scalar('train/average_return', avg_ret)
                        tf.summary.scalar('train/average_episode_length', avg_len)
                    last = history[-1] if history else None
                    ev = (f' | last eval {100 * (last["completion"] or 0):.0f}% lap'
                          if last else '')
                    log(f'[{wall():7.1f}s] step {done:>9,}/{tc.steps:,} | {sps:6.0f} env steps/s '
                        f'{gps:5.0f} grad/s | eps {float(epsilon()):.2f} | loss {loss:.4f} | '
                        f'return {avg_ret:7.1f} (len {avg_len:5.0f}, {n_episodes} ep)'
                        + source.progress_text() + ev)
                    if monitor is not None:  # monitor: live plots
                        monitor.progress(done, loss=loss, epsilon=float(epsilon()),
                                         average_return=avg_ret, steps_per_s=sps)
                    next_log = (done // tc.log_interval + 1) * tc.log_interval
                if done >= next_eval:
                    last_result = run_evaluation()
                    next_eval = (done // tc.eval_interval + 1) * tc.eval_interval
                    if tc.stop_on_lap and last_result['all_laps'] and done >= tc.min_steps:
                        stopped = 'lap_driven'
                        break
                if done >= next_ckpt:
                    checkpointer.save(global_step=global_step)
                    save_state()
                    next_ckpt = (done // tc.checkpoint_interval + 1) * tc.checkpoint_interval

        # --- wrap up: checkpoint, policy, figures, report ----------------------------------
        source.finish(stopped)
        checkpointer.save(global_step=global_step)
        if stopped == 'interrupted':
            log(f'interrupted: checkpoint saved at env step {int(env_steps.numpy()):,}; '
                'continue with --resume')
        if last_result is None or last_result['entry']['env_steps'] != int(env_steps.numpy()):
            last_result = run_evaluation()
        train_wall = wall()
        save_state(stopped)
        export()
    finally:
        source.close()
    plot_learning_curve(history, train_curve, out_dir / 'learning_curve.png',
                        title=f'DQN ({cfg.env.observation}) on {cfg.track}, seed {cfg.seed}')
    lap = last_result['entry']
    plot_trajectory(circuit, last_result['path'], out_dir / 'trajectory.png',
                    title=f'{circuit.name}: greedy policy, {100 * (lap["completion"] or 0):.0f}%'
                          f' of a lap' + (f' in {lap["lap_time_s"]:.1f} s'
                                          if lap['lap_time_s'] else ''))
    steps_total = int(env_steps.numpy())
    report = {
        'track': cfg.track, 'observation': cfg.env.observation, 'seed': cfg.seed,
        'stopped': stopped,
        'time_to_first_lap_s': first_lap['time_s'] if first_lap else None,
        'env_steps_to_first_lap': first_lap['env_steps'] if first_lap else None,
        'train_wall_s': round(train_wall, 2),
        'env_steps': steps_total,
        'gradient_steps': int(global_step.numpy()),
        'steps_per_s': round(steps_total / max(1e-9, train_wall), 1),
        'gradient_steps_per_s': round(int(global_step.numpy()) / max(1e-9, train_wall), 1),
        # Throughput of the learning loop itself, without start-up, warm-up and evaluations.
        'loop_steps_per_s': round(loop_steps / loop_s, 1) if loop_s else None,
        'loop_gradient_steps_per_s': round(loop_grads / loop_s, 1) if loop_s else None,
        'last_eval': lap,
        'evaluations': history,
        'policy_dir': str(out_dir / 'policy'),
        'versions': versions,
        **source.report(),
    }
    write_json(out_dir / 'report.json', report)
    log(f'done ({stopped}) in {train_wall:.1f} s: {steps_total:,} env steps; first lap '
        + (f'after {first_lap["time_s"]:.1f} s / {first_lap["env_steps"]:,} env steps'
           if first_lap else 'not yet driven')
        + f'. Policy: {out_dir / "policy"}; report: {out_dir / "report.json"}')
    for env in source.envs + ([] if shares_sim else [e for e in (eval_env, reverse_env) if e]):
        env.close()
    return report

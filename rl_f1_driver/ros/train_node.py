"""train_node: the `rl-f1 train` DQN trainer on the Gazebo car (or sim_node), with monitoring.

Builds F1FollowLineEnv on a GazeboLink (one car, so train.num_envs is forced to 1) and runs
the same trainer as `rl-f1 train`. While it trains it publishes the perception overlay, the
driven path of the current episode and a JSON line of statistics per finished episode.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import rclpy
from nav_msgs.msg import Path as PathMsg
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ..config import Config, load_config
from ..errors import UserError
from ..perception import draw_overlay
from ..quiet import import_tf_agents_quietly, quiet_tensorflow
from ..config import ros_params as params
from .frame_gate import LinkError, LinkStopped
from .node_util import MONITOR_QOS, BackgroundSpinner, image_msg, path_msg, run_node, time_msg
from .monitoring import TrainingNumbers, monitored_env_class
from ..messages.path_trace import PathTrace

PATH_PERIOD = 0.5   # wall seconds between path messages (a long path is a big message)
NUMBERS_PERIOD = 0.2   # wall seconds between the numbers shown over the car in rviz


class TrainMonitor:
    """Overlay, path and episode statistics for rviz, fed by every environment step."""

    def __init__(self, node: Any, p: Dict[str, Any], circuit: Any = None, camera: Any = None):
        """`circuit` (and `camera`, for the car and the camera's TF): also publish the
        circuit and the numbers for rviz (ros.rviz); `numbers` is then the trainer's
        monitor too (epsilon, env steps/s, last evaluation)."""
        self.node = node
        self.p = p
        self.numbers = TrainingNumbers()
        self.rviz = None
        if circuit is not None:
            from .rviz import RvizPublisher
            self.rviz = RvizPublisher(node, p, circuit, camera)
        self._numbers_sent = -float('inf')
        self.overlay_pub = node.create_publisher(Image, p['overlay_topic'], MONITOR_QOS)
        self.path_pub = node.create_publisher(PathMsg, p['path_topic'], MONITOR_QOS)
        self.stats_pub = node.create_publisher(String, p['stats_topic'], 10)
        self.trace = PathTrace(p['path_max_points'], p['path_min_spacing'])
        self.episodes = 0
        self.steps = 0
        self._path_sent = -float('inf')

    def on_reset(self, env: Any) -> None:
        self.episodes += 1
        self.trace.clear()
        self._record(env)
        self.numbers.on_reset(env)

    def on_step(self, env: Any) -> None:
        self.steps += 1
        self.numbers.on_step(env)
        if self.rviz is not None and time.monotonic() - self._numbers_sent >= NUMBERS_PERIOD:
            self._numbers_sent = time.monotonic()
            self.rviz.numbers(self.numbers.lines())
        frame = self._record(env)
        if frame is None:
            return
        stamp = time_msg(frame.stamp)
        # Drawn only for someone who looks (rviz, a recorder): it is the costliest thing here.
        if (self.p['publish_overlay'] and self.steps % self.p['overlay_every'] == 0
                and self.overlay_pub.get_subscription_count() > 0):
            cmd = getattr(env.sim, 'last_command', None)
            text = (f'episode {self.episodes}  step {env.stats.steps}  '
                    f'return {env.stats.return_:.1f}')
            overlay = draw_overlay(frame.image, env.detector, env.last_reading,
                                   None if cmd is None else (cmd.linear_x, cmd.angular_z), text)
            self.overlay_pub.publish(image_msg(overlay, stamp, self.p['camera_frame']))
        ended = bool(env.stats.end_reason)
        now = time.monotonic()
        # A lock-step simulator runs at hundreds of steps/s: the path goes out at a rate a
        # viewer can use, at each episode's end, and only while someone subscribes.
        if ((ended or now - self._path_sent >= PATH_PERIOD)
                and self.path_pub.get_subscription_count() > 0):
            self._path_sent = now
            self.path_pub.publish(path_msg(self.trace.poses(), self.p['odom_frame'], stamp))
        if ended:
            summary = {'episode': self.episodes, 'stamp': frame.stamp,
                       'start_fraction': env.start_fraction, **env.episode_summary()}
            self.stats_pub.publish(String(data=json.dumps(summary, default=float)))

    def _record(self, env: Any) -> Optional[Any]:
        frame = env.last_frame
        if frame is not None and frame.pose is not None:
            self.trace.add(frame.stamp, frame.pose)
        return frame


def training_config(p: Dict[str, Any]) -> Config:
    """The config file over the defaults; one environment (one car); the launched track."""
    overrides: Dict[str, Any] = {'train.num_envs': 1}
    if p['track'].strip():
        overrides['track'] = p['track'].strip()
    return load_config(*params.split_config_files(p['config_file']), overrides=overrides)


def _main(args: Optional[list]) -> int:
    node = rclpy.create_node('train_node')
    log = node.get_logger()
    spinner: Optional[BackgroundSpinner] = None
    links: List[Any] = []
    try:
        p = params.declare_node_parameters(node, 'train_node')
        cfg = training_config(p)
        # Imported here, so the node module loads (and fails clearly) without TensorFlow;
        # tf-agents first, quietly (a TensorFlow without Keras 2 ends here with one line).
        import_tf_agents_quietly()
        from ..env.factory import stream_seeds
        from ..env.follow_line_env import F1FollowLineEnv
        from ..learn.trainer import EVAL_INDEX, train
        from ..track import load_circuit
        from .gazebo_link import GazeboLink
        # Subscriptions and clients exist before the executor thread starts spinning.
        links.append(GazeboLink(node, params.LinkSettings.from_params(p), cfg.camera, cfg.car))
        monitor = TrainMonitor(node, p, load_circuit(cfg.track), cfg.camera)
        env_class = monitored_env_class(F1FollowLineEnv)

        def env_factory(c: Config, index: int) -> F1FollowLineEnv:
            # One simulated car: every environment the trainer asks for (training, and
            # evaluation with index <= EVAL_INDEX) drives it in turn through the same link.
            if index <= EVAL_INDEX:
                log.info(f'evaluation environment {index} shares the simulated car')
            return env_class(links[0], c, load_circuit(c.track),
                             seed=stream_seeds(c.seed, index)[1], monitor=monitor)

        spinner = BackgroundSpinner(node).start()
        if p['role'] == 'actor':
            return _run_actor(cfg, p, env_factory, log)
        log.info(f'training on {cfg.track} through {p["camera_topic"]} -> '
                 f'{p["cmd_vel_topic"]}, output in {p["run_dir"]}')
        report = train(cfg, Path(p['run_dir']), resume=p['resume'], env_factory=env_factory,
                       allow_config_change=p['allow_config_change'],
                       monitor=monitor.numbers)
        log.info('training finished: ' + json.dumps(report, default=str)[:2000])
        return 0
    except UserError as exc:
        log.error(str(exc))
        return 2
    except LinkStopped as exc:
        log.info(f'{exc}: nothing was trained')   # a Ctrl-C, not a failure
        return 0
    except LinkError as exc:
        log.error(f'simulator link failed: {exc}')
        return 1
    finally:
        for link in links:
            link.close()
        if spinner is not None:
            spinner.stop()
        node.destroy_node()


def _run_actor(cfg: Config, p: Dict[str, Any], env_factory: Any, log: Any) -> int:
    """role actor: drive the simulated car for a learner elsewhere (rl-f1 learner), through
    the replay service `replay` on the Ray cluster at `ray_address`; the same actor as
    `rl-f1 actor --backend embedded`."""
    import threading

    from ..learn.distributed.actor import run_actor
    from ..learn.distributed.replay import ray_address, replay_name
    from ..learn.distributed.service import joined_replay
    if not p['ray_address'].strip():
        raise UserError('role actor needs the Ray cluster of its learner: ray_address:=HOST:PORT '
                        '(`ray start --head` or rl-f1 replay-server print it)')
    address, name = ray_address(p['ray_address'].strip()), replay_name(p['replay'])
    log.info(f'actor {p["actor_id"]} on {cfg.track} through {p["camera_topic"]} -> '
             f'{p["cmd_vel_topic"]}, replay {name!r} on the Ray cluster at {address}')
    with joined_replay(address, name, cfg.distributed.server_timeout) as replay:
        # Ctrl-C raises KeyboardInterrupt here (run_node): an actor holds nothing to save.
        counts = run_actor(cfg, replay, p['actor_id'], env_factory(cfg, p['actor_id']),
                           threading.Event(), log=log.info)
    log.info(f'actor finished: {counts}')
    return 0


def main(args: Optional[list] = None) -> int:
    quiet_tensorflow()   # as quiet as `rl-f1 train`: before anything imports TensorFlow
    return run_node(_main, args)


if __name__ == '__main__':
    sys.exit(main())

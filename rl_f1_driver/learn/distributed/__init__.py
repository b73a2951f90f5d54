"""Training across processes and machines on Ray: a learner, a replay service and actors
(tf-agents' Actor-Learner roles; Ray carries the data).

- `replay_store`: the replay buffer as plain numpy: each step once in a ring, n_step+1-step
  sequences of one writer's stream sampled uniformly, and the samples-per-insert rate
  limiter (Reverb's SampleToInsertRatio, as arithmetic).
- `service`: `ReplayService`, that buffer with the learner's latest weights and the actors'
  statistics, as one threaded Ray actor; `Replay`, every process's handle on it, whose calls
  are bounded and turn a lost service into ReplayServerLost.
- `replay`: what every process derives from the same run config: specs, the replay's
  settings, the weights message.
- `ray_cluster`: this process on Ray: a local Ray (loopback only, token authentication on,
  session folder in the run directory) or a cluster joined with --ray-address.
- `learner`: `RaySource`, the learner's experience source: the in-process trainer's loop
  (`trainer.run_training`) samples the replay, trains, pushes weights every
  `distributed.push_period` gradient steps, evaluates, checkpoints and exports as `rl-f1
  train` does (`run_learner`, `rl-f1 learner`).
- `actor`: `run_actor` builds the same agent, pulls the weights every
  `distributed.pull_period` env steps and drives its own environment with the collect policy
  through a tf-agents `Actor`, sending its steps tagged with the weights' version. It knows
  nothing of the backend behind its environment (embedded, ROS).
- `launcher`: `train_with_actors` (`rl-f1 train --actors N`): the learner in the command,
  the replay service and N actors as Ray actors (Ray restarts a dead one).
- `server`: `rl-f1 replay-server`, the replay service on its own, for separate commands.
- `watchdog`: `ReplayServerLost` and `ServerWatchdog`, which ends a process whose replay is
  gone.
- `cli`: the commands `rl-f1 replay-server`, `rl-f1 learner`, `rl-f1 actor`.

Faults: an actor that dies only lowers the data rate (Ray restarts the actors of
`--actors N`; restart a separate `rl-f1 actor` by hand, it rejoins). A learner restarted with
--resume pushes its checkpoint's weights again. When the replay service does not answer for
`distributed.server_timeout` seconds, or is gone, actors and learner end with an error
naming it.
"""

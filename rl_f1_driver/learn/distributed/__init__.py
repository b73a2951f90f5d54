"""Training across processes and machines: actors and a learner over a Reverb replay server
(tf-agents Actor-Learner).

- `replay`: the three tables (experience, variables, actor_stats) and the specs every process
  derives from the same run config.
- `server`: the replay server process (`rl-f1 replay-server`).
- `learner`: `ReverbSource`, the learner's experience source: the in-process trainer's loop
  (`trainer.run_training`) samples the `experience` table, trains, pushes weights to the
  `variables` table every `distributed.push_period` gradient steps, evaluates, checkpoints and
  exports as `rl-f1 train` does (`run_learner`, `rl-f1 learner`).
- `actor`: `run_actor` builds the same agent, pulls the weights every
  `distributed.pull_period` env steps and drives its own environment with the collect policy
  through a tf-agents `Actor`, writing n_step+1-step sequences tagged with the weights'
  version. It knows nothing of the backend behind its environment (embedded, ROS).
- `launcher`: `train_with_actors` (`rl-f1 train --actors N`) starts the replay server and N
  actors as child processes of the learner and stops them when it ends.
- `watchdog`: what all of them share about the server: `check_server`, `ReplayServerLost`
  and `ServerWatchdog`.
- `cli`: the commands `rl-f1 replay-server`, `rl-f1 learner`, `rl-f1 actor`.

Faults: an actor that dies only lowers the data rate (the launcher restarts it; on other
machines restart it by hand, it rejoins). A learner restarted with --resume pushes its
checkpoint's weights again. When the replay server does not answer for
`distributed.server_timeout` seconds, actors and learner end with an error naming it.
"""

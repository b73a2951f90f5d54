"""DQN training (tf-agents) on F1FollowLineEnv, evaluation, export and figures."""

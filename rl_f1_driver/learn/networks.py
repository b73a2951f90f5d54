"""Q-networks: fully connected for `lines`, convolutional for `image` observations."""
from __future__ import annotations

import tensorflow as tf
from tf_agents.networks import q_network
from tf_agents.specs import tensor_spec

from ..config import TrainConfig


def build_q_network(observation_spec, action_spec, cfg: TrainConfig, observation: str
                    ) -> q_network.QNetwork:
    if observation == 'lines':
        return q_network.QNetwork(observation_spec, action_spec,
                                  fc_layer_params=tuple(cfg.fc_layers))
    # uint8 masks -> [0, 1] floats inside the network, so the replay buffer stores bytes.
    scale = tf.keras.layers.Lambda(lambda x: tf.cast(x, tf.float32) / 255.0)
    return q_network.QNetwork(observation_spec, action_spec, preprocessing_layers=scale,
                              conv_layer_params=tuple(tuple(c) for c in cfg.conv_layers),
                              fc_layer_params=tuple(cfg.fc_layers))


def is_image_spec(spec) -> bool:
    return len(tensor_spec.from_spec(spec).shape) == 3

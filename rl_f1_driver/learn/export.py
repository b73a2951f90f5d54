"""Export and describe a trained policy: a PolicySaver SavedModel plus what it needs to drive.

`policy/rl_f1_driver.yaml` holds the observation mode, action set, perception rows and camera,
so a driver (ROS node, `rl-f1 drive`) can rebuild exactly the observations the policy was
trained on, without the training code. `policy/q_network.npz` holds the greedy Q-network's
weights and layers for the numpy runtime (drive.numpy_policy), which drives without
TensorFlow; a network it cannot compute exactly is not written (logged), and the policy then
drives with the SavedModel.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import yaml

from ..config import Config, to_dict
from ..drive.numpy_policy import (ACTIVATIONS, NPZ_NAME, NumpyQNetwork, export_digests,
                                  save_numpy_network, weight_names)
from ..errors import UserError
from .run_dir import stack_versions

POLICY_META = 'rl_f1_driver.yaml'
# pid rides along: its row weights must match the perception rows the policy was trained with.
META_SECTIONS = ('actions', 'camera', 'perception', 'env', 'car', 'reward', 'pid', 'track',
                 'seed')
# The numpy network must give the TensorFlow network's Q-values to this (checked at export).
CHECK_RTOL = 1e-4

logger = logging.getLogger(__name__)


class UnsupportedNetwork(Exception):
    """The policy's network has a part the numpy runtime does not compute."""


def export_policy(policy, out: Path, cfg: Config, train_step) -> Path:
    """Save atomically: write beside, then swap, so a crash never leaves a broken policy/."""
    from tf_agents.policies import policy_saver
    out = Path(out)
    tmp = out.with_name(out.name + '.tmp')
    if tmp.exists():
        shutil.rmtree(tmp)
    saver = policy_saver.PolicySaver(policy, batch_size=None, train_step=train_step)
    saver.save(str(tmp))
    meta = {'format': 1, 'config': {k: to_dict(getattr(cfg, k)) for k in META_SECTIONS},
            'versions': stack_versions()}
    (tmp / POLICY_META).write_text(yaml.safe_dump(meta, sort_keys=False), encoding='utf-8')
    write_numpy_network(policy, tmp / NPZ_NAME)
    old = out.with_name(out.name + '.old')
    if out.exists():
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)
    return out


def write_numpy_network(policy, path: Path) -> bool:
    """Write q_network.npz for the numpy runtime; False (and a logged reason) when the network
    has a part it does not compute, or its Q-values would differ from TensorFlow's.

    Written after the SavedModel, in the same folder: it records the SavedModel's digests."""
    path = Path(path)
    try:
        architecture, weights = describe_q_network(policy)
        architecture['export_files'] = export_digests(path.parent)
        net = save_numpy_network(path, architecture, weights)
        check_against_tensorflow(net, q_network_of(policy))
        return True
    except (UnsupportedNetwork, UserError) as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - the SavedModel export must not fail for this
        reason = f'{type(exc).__name__}: {exc}'
    path.unlink(missing_ok=True)
    logger.warning('%s not written, the policy will drive with TensorFlow only: %s',
                   path.name, reason)
    return False


def q_network_of(policy):
    """The QNetwork behind a greedy tf-agents Q policy (agent.policy of a DQN agent)."""
    from tf_agents.networks import q_network
    from tf_agents.policies import greedy_policy, q_policy
    if not isinstance(policy, greedy_policy.GreedyPolicy):
        raise UnsupportedNetwork(f'a {type(policy).__name__}, not a greedy policy')
    inner = policy.wrapped_policy
    if not isinstance(inner, q_policy.QPolicy):
        raise UnsupportedNetwork(f'a greedy {type(inner).__name__}, not a greedy QPolicy')
    if inner.observation_and_action_constraint_splitter is not None:
        raise UnsupportedNetwork('the policy masks actions')
    net = getattr(inner, '_q_network', None)  # tf-agents keeps it private
    if type(net) is not q_network.QNetwork:
        raise UnsupportedNetwork(f'the Q-network is a {type(net).__name__}, not a tf-agents '
                                 'QNetwork')
    return net


def describe_q_network(policy) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """(architecture, weights) of the policy's Q-network in the q_network.npz format.

    Reads the keras layers of the QNetwork (its EncodingNetwork: preprocessing, then conv,
    flatten and dense layers; then the Q-value layer). Anything else is UnsupportedNetwork.
    """
    import tensorflow as tf
    from tf_agents.networks import encoding_network
    net = q_network_of(policy)
    spec = policy.action_spec
    if int(spec.minimum) != 0 or spec.shape not in ((), (1,)):
        raise UnsupportedNetwork(f'action spec {spec}: expected actions 0..n-1')
    num_actions = int(spec.maximum) + 1
    obs_spec = net.input_tensor_spec
    if not isinstance(obs_spec, tf.TensorSpec):
        raise UnsupportedNetwork(f'nested observations ({type(obs_spec).__name__})')
    obs = {'shape': [int(n) for n in obs_spec.shape], 'dtype': obs_spec.dtype.name}
    if obs['dtype'] not in ('float32', 'uint8'):
        raise UnsupportedNetwork(f'{obs["dtype"]} observations')
    encoder = getattr(net, '_encoder', None)
    if type(encoder) is not encoding_network.EncodingNetwork:
        raise UnsupportedNetwork(f'the encoder is a {type(encoder).__name__}')
    try:
        preprocessing = list(encoder._flat_preprocessing_layers or [])
        combiner = encoder._preprocessing_combiner
        body = list(encoder._postprocessing_layers) + [net._q_value_layer]
    except AttributeError as exc:  # another tf-agents version
        raise UnsupportedNetwork(f'unknown QNetwork layout ({exc})') from None
    if combiner is not None or len(preprocessing) > 1:
        raise UnsupportedNetwork('several preprocessing layers or a combiner')
    layers, weights = [], {}
    if preprocessing:
        layers.append(_describe_scaling(preprocessing[0], obs_spec))
    for layer in body:
        index = len(layers)
        layers.append(_describe_layer(layer))
        for name, var in zip(weight_names(index), _layer_weights(layer)):
            if var is not None:
                weights[name] = var
    architecture = {'format': 1, 'observation': obs, 'num_actions': num_actions,
                    'layers': layers}
    return architecture, weights


def _describe_scaling(layer, obs_spec) -> Dict[str, Any]:
    """A preprocessing Lambda that maps uint8 x to x / divisor + offset, found by probing it
    (its Python function cannot be read): any other function is refused."""
    import tensorflow as tf
    name = type(layer).__name__
    if not isinstance(layer, tf.keras.layers.Lambda) or obs_spec.dtype != tf.uint8:
        raise UnsupportedNetwork(f'preprocessing layer {name} on {obs_spec.dtype.name} '
                                 'observations (only a uint8 scaling Lambda is supported)')
    shape = tuple(int(n) for n in obs_spec.shape)
    ramp = (np.arange(int(np.prod(shape))) % 256).astype(np.uint8).reshape(shape)
    x = np.stack([ramp, 255 - ramp, np.zeros_like(ramp)])
    y = layer(tf.constant(x))
    y = y.numpy() if hasattr(y, 'numpy') else np.asarray(y)
    if y.shape != x.shape or y.dtype != np.float32:
        raise UnsupportedNetwork(f'preprocessing Lambda gives {y.dtype} {y.shape} for uint8 '
                                 f'{x.shape}: not an elementwise scaling to float32')
    lo, hi = float(y[2].flat[0]), float(y[1].flat[0])   # f(0), f(255)
    if hi == lo:
        raise UnsupportedNetwork('preprocessing Lambda is constant')
    divisor = 255.0 / (hi - lo)
    if abs(divisor - round(divisor)) < 1e-4 * abs(divisor):
        divisor = float(round(divisor))
    expected = x.astype(np.float32) / np.float32(divisor) + np.float32(lo)
    if not np.allclose(y, expected, rtol=1e-6, atol=1e-7):
        raise UnsupportedNetwork('preprocessing Lambda is not x / divisor + offset')
    return {'kind': 'scale', 'divisor': divisor, 'offset': lo}


def _activation(layer) -> str:
    """The name of a keras layer's activation, if it is one the numpy runtime computes.

    Read from the layer's attributes: get_config() would serialise the initialisers too
    (keras warns about the Q-value layer's)."""
    import tensorflow as tf
    fn = getattr(layer, 'activation', None)
    name = 'linear' if fn is None else getattr(fn, '__name__', repr(fn))
    known = name in ACTIVATIONS and (fn is None or fn is tf.keras.activations.get(name))
    if not known:
        raise UnsupportedNetwork(f'{layer.name}: activation {name!r} (supported: '
                                 f'{", ".join(ACTIVATIONS)})')
    return name


def _describe_layer(layer) -> Dict[str, Any]:
    import tensorflow as tf
    kind = type(layer)
    if getattr(layer, 'compute_dtype', 'float32') != 'float32':
        raise UnsupportedNetwork(f'{layer.name}: computes in {layer.compute_dtype}')
    if kind is tf.keras.layers.Flatten:
        if getattr(layer, 'data_format', 'channels_last') != 'channels_last':
            raise UnsupportedNetwork(f'{layer.name}: data_format {layer.data_format}')
        return {'kind': 'flatten'}
    if kind is tf.keras.layers.Dense:
        return {'kind': 'dense', 'activation': _activation(layer)}
    if kind is tf.keras.layers.Conv2D:
        if layer.data_format != 'channels_last' or getattr(layer, 'groups', 1) != 1:
            raise UnsupportedNetwork(f'{layer.name}: data_format {layer.data_format}, '
                                     f'groups {getattr(layer, "groups", 1)}')
        padding = str(layer.padding).lower()
        if padding not in ('valid', 'same'):
            raise UnsupportedNetwork(f'{layer.name}: padding {padding}')
        strides = [int(s) for s in layer.strides]
        dilation = [int(d) for d in layer.dilation_rate]
        if max(strides) > 1 and max(dilation) > 1:  # TensorFlow refuses this too
            raise UnsupportedNetwork(f'{layer.name}: strides and dilation both > 1')
        return {'kind': 'conv2d', 'strides': strides, 'padding': padding,
                'dilation': dilation, 'activation': _activation(layer)}
    raise UnsupportedNetwork(f'layer {layer.name} of kind {kind.__name__} (supported: '
                             'Conv2D, Flatten, Dense)')


def _layer_weights(layer):
    """(kernel, bias or None) as float32 numpy arrays; flatten layers have none."""
    kernel = getattr(layer, 'kernel', None)
    if kernel is None:
        if layer.weights:
            raise UnsupportedNetwork(f'{layer.name}: unexpected weights')
        return ()
    if kernel.dtype.name != 'float32':
        raise UnsupportedNetwork(f'{layer.name}: {kernel.dtype.name} weights')
    expected = 2 if getattr(layer, 'use_bias', False) else 1
    if len(layer.weights) != expected:
        raise UnsupportedNetwork(f'{layer.name}: {len(layer.weights)} weight arrays')
    bias = layer.bias.numpy() if getattr(layer, 'use_bias', False) else None
    return kernel.numpy(), bias


def check_against_tensorflow(net: NumpyQNetwork, q_net, samples: int = 32,
                             seed: int = 0) -> None:
    """The numpy network's Q-values equal the QNetwork's on random observations."""
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    shape = (samples,) + net.observation_shape
    if net.observation_dtype == np.uint8:
        obs = rng.integers(0, 256, shape).astype(np.uint8)
        obs[0] = 0
    else:
        obs = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    want = q_net(tf.constant(obs), training=False)[0].numpy()
    got = net.q_values(obs)
    scale = max(1.0, float(np.abs(want).max()))
    if got.shape != want.shape or not np.allclose(got, want, rtol=CHECK_RTOL,
                                                  atol=CHECK_RTOL * scale):
        err = float(np.abs(got - want).max()) if got.shape == want.shape else float('nan')
        raise UnsupportedNetwork(f'the numpy network differs from TensorFlow (max |dQ| '
                                 f'{err:.3g} on random observations)')

"""The replay of distributed training as plain numpy: sequences, FIFO, rate limiter, and the
service's blocking calls (no Ray, no TensorFlow)."""
import threading

import numpy as np
import pytest

from rl_f1_driver.learn.distributed.replay_store import RateLimiter, ReplayStore
from rl_f1_driver.learn.distributed.service import ReplayService

# A step: a step number (int64) and an "image" (uint8 2x3).
LEAVES = [((), 'int64'), ((2, 3), 'uint8')]


def _steps(first: int, n: int) -> list:
    numbers = np.arange(first, first + n, dtype=np.int64)
    images = np.repeat((numbers % 256).astype(np.uint8)[:, None, None], 6, 1).reshape(n, 2, 3)
    return [numbers, images]


def _store(capacity=100, length=2, spi=0.0, min_size=1, error_buffer=10.0):
    return ReplayStore(LEAVES, capacity, length, RateLimiter(spi, min_size, error_buffer),
                       seed=1)


def test_sequences_are_consecutive_steps_of_one_writer_within_an_episode():
    store = _store(length=3)
    boundary = np.zeros(10, bool)
    boundary[4] = True                        # steps 0-4: one episode, 5-9: the next
    # Two writers interleave their chunks: sequences never mix them.
    store.add('a', _steps(0, 5), boundary[:5])
    store.add('b', _steps(1000, 6), np.zeros(6, bool))
    store.add('a', _steps(5, 5), boundary[5:])
    # a: 3 + 3 sequences of 3 (none across the episode end), b: 4.
    assert store.size == 10 and store.limiter.inserts == 10
    numbers, images = store.sample(batch_size=500, batches=1)
    seqs = numbers[0]
    assert seqs.shape == (500, 3) and images.shape == (1, 500, 3, 2, 3)
    assert np.all(np.diff(seqs, axis=1) == 1)                     # consecutive
    assert not np.any((seqs[:, 0] <= 4) & (seqs[:, -1] >= 5))     # not across the episode end
    assert np.all(images[0, :, :, 0, 0] == seqs % 256)            # leaves of the same steps
    # Uniform over the 10 sequences: every one drawn.
    assert len({tuple(s) for s in seqs}) == 10


def test_the_ring_drops_the_oldest_sequences_first():
    store = _store(capacity=8, length=2)
    store.add('a', _steps(0, 8), np.zeros(8, bool))
    assert store.size == 7
    store.add('a', _steps(8, 3), np.zeros(3, bool))
    # Steps 0-2 are overwritten: sequences from 3 on remain (3-4 ... 9-10).
    assert store.size == 8 - 1
    firsts = set(store.sample(batch_size=400, batches=1)[0][0][:, 0].tolist())
    assert firsts == set(range(3, 10))


def test_a_slow_writer_whose_steps_were_overwritten_makes_no_sequence():
    store = _store(capacity=4, length=2)
    store.add('slow', _steps(0, 1), np.zeros(1, bool))
    store.add('fast', _steps(100, 4), np.zeros(4, bool))   # overwrites slow's step 0
    store.add('slow', _steps(1, 1), np.zeros(1, bool))     # its sequence 0-1 is gone
    numbers = store.sample(batch_size=200, batches=1)[0][0]
    assert 0 not in numbers[:, 0] and set(numbers[:, 0].tolist()) <= {101, 102}


def test_steps_of_another_shape_are_refused_naming_the_config():
    store = _store()
    with pytest.raises(ValueError, match="actor's config differs"):
        store.add('a', [np.arange(3), np.zeros((3, 2, 4), np.uint8)], np.zeros(3, bool))
    with pytest.raises(ValueError, match='has 1 parts'):
        store.add('a', [np.arange(3)], np.zeros(3, bool))


def test_the_rate_limiter_keeps_samples_per_insert():
    limiter = RateLimiter(samples_per_insert=4.0, min_size=10, error_buffer=8.0)
    assert limiter.samples_allowed(size=9, wanted=100) == 0        # below min_size
    limiter.inserts = 10
    # Bounds 4 * 10 -/+ 8 = [32, 48]; diff 40: 8 samples down to the lower bound.
    assert limiter.samples_allowed(size=10, wanted=100) == 8
    limiter.samples = 8
    assert limiter.samples_allowed(size=10, wanted=100) == 0
    # Inserts: allowed while diff + 4 <= 40 + 8.
    assert limiter.can_insert(10)
    limiter.inserts = 12                                           # diff 40
    assert limiter.can_insert(10)
    limiter.inserts = 14                                           # diff 48
    assert not limiter.can_insert(10)
    assert RateLimiter(0.0, 5, 0.0).samples_allowed(5, 100) == 100   # no ratio


def _service(**kw):
    args = dict(leaves=LEAVES, capacity=1000, length=2, samples_per_insert=2.0, min_size=4,
                error_buffer=8.0, seed=0)
    args.update(kw)
    return ReplayService(**args)


def test_a_held_insert_waits_until_samples_make_room():
    service = _service()
    # Bounds: 2 * 4 -/+ 8 = [0, 16].
    assert service.insert('a', *_chunk(0, 9), timeout=0)           # 8 sequences: diff 16
    assert not service.insert('a', *_chunk(9, 4), timeout=0.05)    # 16 + 2 > 16
    taken = []
    inserting = threading.Thread(
        target=lambda: taken.append(service.insert('a', *_chunk(9, 4), timeout=30)))
    inserting.start()
    batches = service.sample(batch_size=2, batches=10, timeout=5)
    inserting.join(timeout=30)
    assert batches is not None and taken == [True]
    # The 16 samples the ratio allowed (8 of the 10 batches asked for), then the held chunk
    # went in: 4 more sequences of the same stream.
    assert batches[0].shape[:2] == (8, 2)
    info = service.info()
    assert info['inserts'] == 12 and info['samples'] == 16


def test_a_sample_waits_for_data_and_ends_empty_after_its_timeout():
    service = _service(samples_per_insert=0.0)
    assert service.sample(batch_size=2, batches=1, timeout=0.05) is None
    got = []
    sampling = threading.Thread(target=lambda: got.append(service.sample(2, 1, timeout=30)))
    sampling.start()
    service.insert('a', *_chunk(0, 6), timeout=1)
    sampling.join(timeout=30)
    assert got and got[0] is not None and got[0][0].shape == (1, 2, 2)


def test_weights_are_sent_again_only_when_newer():
    service = _service()
    assert service.pull_weights() is None
    service.push_weights({'version': 5, 'env_steps': 100, 'control': [0, 7],
                          'variables': [np.ones(3)]})
    assert 'variables' in service.pull_weights(-1)
    same = service.pull_weights(5)
    assert 'variables' not in same and same['control'] == [0, 7]
    service.put_stats([1.0, 2.0])
    assert service.take_stats() == [[1.0, 2.0]] and service.take_stats() == []


def _chunk(first: int, n: int):
    return _steps(first, n), np.zeros(n, bool)

"""The replay buffer of distributed training, as plain numpy (no Ray, no TensorFlow): steps in
a ring, n_step+1-step sequences sampled uniformly, and the samples-per-insert rate limiter.

Actors send the steps they drive, in chunks; each step is stored once, whatever the number
of sequences it belongs to (an image observation is the bulk of a step). A sequence is the
last n_step+1 steps of one writer's stream within one episode (the step after an episode's
last one starts a new stream), as tf-agents' Actor-Learner observers write them. The ring
is FIFO: a sequence goes when its first step is overwritten, which happens before any of
its later steps are (they were written after it).

`ReplayService` (service.py) hosts one of these in a Ray actor; the tests use it directly.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# (shape, dtype name) of each leaf of a step (the flattened trajectory nest).
LeafSpec = Tuple[Tuple[int, ...], str]


@dataclasses.dataclass
class RateLimiter:
    """Reverb's SampleToInsertRatio, as arithmetic: with `diff` = samples_per_insert * inserts
    - samples, inserts wait while diff is above the upper bound and samples wait while it is
    below the lower one; both bounds sit `error_buffer` around samples_per_insert *
    min_size. samples_per_insert 0: no ratio, sampling needs only min_size items."""
    samples_per_insert: float
    min_size: int
    error_buffer: float
    inserts: int = 0
    samples: int = 0

    @property
    def diff(self) -> float:
        return self.samples_per_insert * self.inserts - self.samples

    def _bounds(self) -> Tuple[float, float]:
        centre = self.samples_per_insert * self.min_size
        return centre - self.error_buffer, centre + self.error_buffer

    def can_insert(self, size: int) -> bool:
        """One more item (a chunk goes in whole once its first item may: the overshoot is
        bounded by the chunk, and a chunk larger than the buffer cannot wait forever)."""
        if self.samples_per_insert <= 0 or size < self.min_size:
            return True
        return self.diff + self.samples_per_insert <= self._bounds()[1]

    def samples_allowed(self, size: int, wanted: int) -> int:
        """How many of `wanted` samples may be taken now (0: wait)."""
        if size < self.min_size or size == 0:
            return 0
        if self.samples_per_insert <= 0:
            return wanted
        room = int(np.floor(self.diff - self._bounds()[0]))
        return max(0, min(wanted, room))


class ReplayStore:
    """Steps of several writers in one ring of `capacity` steps; sequences of `length` steps.

    `leaves` describes one step: the (shape, dtype) of each leaf of its nest. Memory is taken
    as steps arrive (numpy's untouched pages cost nothing), so a small run stays small.
    """

    def __init__(self, leaves: Sequence[LeafSpec], capacity: int, length: int,
                 limiter: RateLimiter, seed: int = 0):
        if capacity < length:
            raise ValueError(f'capacity {capacity} < sequence length {length}')
        self.leaves = [(tuple(shape), str(dtype)) for shape, dtype in leaves]
        self.capacity, self.length, self.limiter = capacity, length, limiter
        self.columns = [np.zeros((capacity, *shape), dtype) for shape, dtype in self.leaves]
        # items[s]: the slots of the sequence whose first step is in slot s (row valid when
        # valid[s]); generation[s]: how often slot s was written (a writer's remembered slot
        # is still its step while the generation is the one it saw).
        self.items = np.zeros((capacity, length), np.int64)
        self.valid = np.zeros(capacity, bool)
        self.generation = np.zeros(capacity, np.int64)
        self.size = 0            # valid sequences
        self.filled = 0          # slots written at least once
        self.next_slot = 0
        self.steps_added = 0
        self._streams: Dict[object, List[Tuple[int, int]]] = {}   # writer -> (slot, gen)
        self._rng = np.random.default_rng(seed)

    # --- writing ----------------------------------------------------------------------------
    def check_leaves(self, leaves: Sequence[np.ndarray], steps: int) -> None:
        if len(leaves) != len(self.leaves):
            raise ValueError(f'a step has {len(leaves)} parts, the replay expects '
                             f'{len(self.leaves)}: the actor\'s config differs from the '
                             'learner\'s (network, observation or n_step)')
        for i, (leaf, (shape, dtype)) in enumerate(zip(leaves, self.leaves)):
            if leaf.shape != (steps, *shape) or leaf.dtype != np.dtype(dtype):
                raise ValueError(f'step part {i} is {leaf.dtype}{list(leaf.shape[1:])}, the '
                                 f'replay expects {dtype}{list(shape)}: the actor\'s config '
                                 'differs from the learner\'s')

    def add(self, writer: object, leaves: Sequence[np.ndarray],
            boundary: np.ndarray) -> int:
        """Append `len(boundary)` consecutive steps of `writer`'s stream (leaf arrays with that
        leading dimension). boundary[i]: step i ends an episode (the next step of this writer
        starts a new sequence). Returns the number of sequences made."""
        steps = len(boundary)
        self.check_leaves(leaves, steps)
        stream = self._streams.setdefault(writer, [])
        made = 0
        for i in range(steps):
            slot = self.next_slot
            if self.valid[slot]:          # the oldest sequence starts here: it goes
                self.valid[slot] = False
                self.size -= 1
            for column, leaf in zip(self.columns, leaves):
                column[slot] = leaf[i]
            self.generation[slot] += 1
            self.next_slot = (slot + 1) % self.capacity
            self.filled = min(self.capacity, self.filled + 1)
            self.steps_added += 1
            stream.append((slot, int(self.generation[slot])))
            if len(stream) > self.length:
                del stream[0]
            if len(stream) == self.length and all(
                    self.generation[s] == g for s, g in stream):
                first = stream[0][0]
                self.items[first] = [s for s, _ in stream]
                if not self.valid[first]:
                    self.valid[first] = True
                    self.size += 1
                made += 1
            if boundary[i]:
                stream.clear()
        self.limiter.inserts += made
        return made

    def forget_writer(self, writer: object) -> None:
        self._streams.pop(writer, None)

    # --- sampling ---------------------------------------------------------------------------
    def sample(self, batch_size: int, batches: int) -> Optional[List[np.ndarray]]:
        """Up to `batches` batches that the rate limiter allows now, as leaves shaped
        (batches, batch_size, length, ...); None when not even one is allowed."""
        allowed = self.limiter.samples_allowed(self.size, batch_size * batches) // batch_size
        if allowed == 0:
            return None
        n = allowed * batch_size
        firsts = self._valid_slots(n)
        self.limiter.samples += n
        slots = self.items[firsts]                          # (n, length)
        return [column[slots].reshape(allowed, batch_size, self.length, *column.shape[1:])
                for column in self.columns]

    def _valid_slots(self, n: int) -> np.ndarray:
        """n first-slots drawn uniformly among the valid sequences (with replacement)."""
        # Most written slots start a valid sequence (all but the last n_step of an episode):
        # draw among the written slots and keep the valid ones; fall back to the full list
        # when few are valid.
        if self.size * 2 >= self.filled:
            out = np.empty(0, np.int64)
            while len(out) < n:
                draw = self._rng.integers(0, self.filled, size=2 * (n - len(out)) + 8)
                out = np.concatenate([out, draw[self.valid[draw]]])
            return out[:n]
        return self._rng.choice(np.flatnonzero(self.valid), size=n)

    def info(self) -> dict:
        return {'size': self.size, 'capacity': self.capacity, 'steps': self.steps_added,
                'inserts': self.limiter.inserts, 'samples': self.limiter.samples,
                'min_size': self.limiter.min_size,
                'samples_per_insert': self.limiter.samples_per_insert}

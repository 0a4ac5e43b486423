"""Random generators as plain data: a numpy Generator's whole state, saved and restored exactly."""
import numpy as np

from engine.core.errors import CheckpointError


def generator_state(gen):
    """A numpy ``Generator``'s whole state as JSON-able data (its bit generator's state and
    the seed sequence it spawns children from)."""
    bg = gen.bit_generator
    ss = bg.seed_seq
    seq = None
    if isinstance(ss, np.random.SeedSequence):
        entropy = ss.entropy
        seq = {"entropy": [int(e) for e in entropy] if isinstance(entropy, (list, tuple, np.ndarray))
               else (None if entropy is None else int(entropy)),
               "spawn_key": [int(k) for k in ss.spawn_key], "pool_size": int(ss.pool_size),
               "n_children_spawned": int(ss.n_children_spawned)}
    return {"bit_generator": type(bg).__name__, "state": bg.state, "seed_seq": seq}


BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def generator_from_state(state):
    """The ``Generator`` that ``generator_state`` described, in the same state."""
    if not isinstance(state, dict) or state.get("bit_generator") not in BIT_GENERATORS:
        raise CheckpointError("a random generator's saved state is not valid (its bit "
                              "generator is not one of " + ", ".join(BIT_GENERATORS) + ")")
    try:
        cls = getattr(np.random, state["bit_generator"])
        seq = state.get("seed_seq")
        if seq is not None:
            ss = np.random.SeedSequence(seq["entropy"], spawn_key=tuple(seq["spawn_key"]),
                                        pool_size=seq["pool_size"],
                                        n_children_spawned=seq["n_children_spawned"])
        else:
            ss = None
        bg = cls(ss)
        bg.state = state["state"]
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as e:
        raise CheckpointError(f"a random generator's saved state is not valid ({e})") from None
    return np.random.Generator(bg)

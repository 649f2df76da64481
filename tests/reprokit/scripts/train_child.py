"""Child process for the resume and strategy tests: a tiny model trained with reprokit.training.fit.

usage: train_child.py ROOT STRATEGY [SLEEP_PER_STEP]
Prints "FINAL <optimizer iterations> <first epoch of this process> <replicas>" and writes the
loss of every step to ROOT/losses-<task>.txt. CHILD_STOP_AFTER=N stops the process (exit 3)
after epoch N, as a killed worker would, to test resuming.
With CHILD_BLOCK_BACKUP=N set, the backup written at the end of epoch N (1-based) is cut to half
its size and the process then hangs inside the write (it writes ROOT/blocked first), so that a
test can kill it in the middle of a checkpoint write.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

root, strategy = sys.argv[1], sys.argv[2]
sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0

from reprokit import training  # noqa: E402

if strategy == "mirrored":
    training.split_cpu(2)
if strategy == "multi_worker":
    training.get_strategy(strategy)         # before any op: collectives are set up once

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


BLOCK = int(os.environ.get("CHILD_BLOCK_BACKUP", "0"))
if BLOCK:
    _save = keras.Model.save_weights

    def _blocking_save(self, filepath, *args, **kwargs):
        _save(self, filepath, *args, **kwargs)
        if f"{os.sep}tmp-" in str(filepath) and int(self.optimizer.iterations.numpy()) >= BLOCK * 5:
            with open(filepath, "r+b") as f:
                f.truncate(os.path.getsize(filepath) // 2)
            open(os.path.join(root, "blocked"), "w").close()
            time.sleep(600)

    keras.Model.save_weights = _blocking_save


STOP = int(os.environ.get("CHILD_STOP_AFTER", "0"))
TASK = "{}-{}".format(*training.worker_role()) if os.environ.get("TF_CONFIG") else "single"


class Progress(keras.callbacks.Callback):
    """Writes the optimizer step to ROOT/step after every batch, then sleeps."""

    def on_epoch_end(self, epoch, logs=None):
        if STOP and epoch + 1 == STOP:
            os._exit(3)

    def on_train_batch_end(self, batch, logs=None):
        with open(os.path.join(root, f"losses-{TASK}.txt"), "a") as f:
            f.write(f"{int(self.model.optimizer.iterations.numpy())} {logs['loss']:.8f}\n")
        if TASK == "single":
            with open(os.path.join(root, "step.tmp"), "w") as f:
                f.write(str(int(self.model.optimizer.iterations.numpy())))
            os.replace(os.path.join(root, "step.tmp"), os.path.join(root, "step"))
        time.sleep(sleep)


def build():
    inp = keras.Input((3,))
    return keras.Model(inp, keras.layers.Dense(1, name="out")(keras.layers.Dense(4, activation="relu")(inp)))


def compile_fn(model):
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=False)


keras.config.disable_traceback_filtering()
training.set_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)).astype("float32")
y = x.sum(1, keepdims=True)
ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(4)
run = training.create_run_dir("child", {"epochs": 4, "steps_per_epoch": 5, "strategy": strategy}, root=root)
model, history = training.fit(build, compile_fn, ds, run, epochs=4, steps_per_epoch=5,
                              execution=training.Execution(strategy=strategy),
                              tensorboard=False, verbose=0, extra_callbacks=[Progress()])
replicas = training.get_strategy(strategy).num_replicas_in_sync
print("FINAL", int(model.optimizer.iterations.numpy()), history.epoch[0], replicas, flush=True)

"""Keras's Adam, RMSprop and SGD with each variable's update in one fused TensorFlow kernel.

Keras 3 writes an optimizer's update as element-wise ops, about 17 graph nodes per variable for
RMSprop (casts, constants, reads, ``Square``, ``Sqrt``, ``RealDiv``, two assignments). The
hourglass has 396 trainable variables, so its train step was 13,611 nodes of which 6,746 were
the optimizer's: every one is traced in Python, optimised by Grappler and instantiated before
the first step (issue 18; docs/performance.md). TensorFlow's training kernels
(``ResourceApplyAdam``, ``ResourceApplyRMSProp``, ``ResourceApplyKerasMomentum``,
``ResourceApplyGradientDescent``) do the same update in one node and one pass over memory, on
the CPU, the GPU and under XLA.

The classes here are Keras's own (same arguments, slots, ``get_config``, checkpoints, gradient
clipping, weight decay, EMA, loss scaling, ``tf.distribute``); only ``update_step`` differs, and
only for a dense gradient of a float variable. The maths is Keras's, term for term
(``tests/reprokit/test_optimizers.py`` runs both on the same gradients):

* Adam: ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``,
  ``w -= m lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)`` (not ``amsgrad``, which stays
  Keras's code).
* SGD: ``w -= lr g``; with momentum ``m = momentum m - lr g``, ``w += m`` (or Nesterov's).
* RMSprop (not ``centered``): ``v = rho v + (1 - rho) g^2``, ``w -= lr g / sqrt(v + eps)``.
  TensorFlow's kernel writes the first as ``v += (g^2 - v)(1 - rho)`` (the same value up to
  float rounding) and keeps the step in a momentum buffer; with ``momentum=0`` (every
  reference here) that buffer is scratch, rewritten at every step, so it is kept out of the
  optimizer's variables and out of checkpoints.
"""
from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FusedAdam", "FusedRMSprop", "FusedSGD"]


class _State:
    """Per-optimizer state that is neither a Keras weight nor checkpointed (a plain object, so
    neither Keras's tracker nor ``tf.train.Checkpoint`` picks it up)."""

    def __init__(self):
        self.constants = None      # {(name, dtype): tensor} during one apply, else None
        self.scratch = {}          # RMSprop's momentum buffers by variable key


def _tf_var(v):
    return v.value if isinstance(v, keras.Variable) else v


class _Fused:
    """The mixin: dense float gradients go through ``_fused_update``; everything else through
    Keras's ``update_step``."""

    def _fused_state(self) -> _State:
        if "_fused" not in self.__dict__:
            object.__setattr__(self, "_fused", _State())
        return self.__dict__["_fused"]

    def _const(self, name: str, dtype, make):
        """The scalar ``tf.cast(make(), dtype)``, made once per apply, not once per variable."""
        cache = self._fused_state().constants
        if cache is None:
            return tf.cast(make(), dtype)
        key = (name, dtype)
        if key not in cache:
            cache[key] = tf.cast(make(), dtype)
        return cache[key]

    def _distributed_tf_update_step(self, distribution, grads_and_vars, learning_rate):
        state = self._fused_state()
        state.constants = {}
        try:
            return super()._distributed_tf_update_step(distribution, grads_and_vars,
                                                       learning_rate)
        finally:
            state.constants = None

    def update_step(self, gradient, variable, learning_rate):
        var = _tf_var(variable)
        if (isinstance(gradient, tf.IndexedSlices) or not var.dtype.is_floating
                or not self._fusable()):
            return super().update_step(gradient, variable, learning_rate)
        return self._fused_update(tf.cast(gradient, var.dtype), var,
                                  tf.cast(learning_rate, var.dtype))

    def _fusable(self) -> bool:
        return True


@keras.saving.register_keras_serializable(package="reprokit")
class FusedAdam(_Fused, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with a one-kernel update (``ResourceApplyAdam``)."""

    def _fusable(self):
        return not self.amsgrad

    def _fused_update(self, grad, var, lr):
        i = self._get_variable_index(var)
        dt = var.dtype
        step = self._const("step", dt, lambda: self.iterations + 1)
        b1 = self._const("b1", dt, lambda: self.beta_1)
        b2 = self._const("b2", dt, lambda: self.beta_2)
        return tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=_tf_var(self._momentums[i]).handle,
            v=_tf_var(self._velocities[i]).handle,
            beta1_power=self._const("b1_power", dt, lambda: tf.pow(b1, step)),
            beta2_power=self._const("b2_power", dt, lambda: tf.pow(b2, step)),
            lr=lr, beta1=b1, beta2=b2, epsilon=self._const("eps", dt, lambda: self.epsilon),
            grad=grad, use_locking=False, use_nesterov=False)


@keras.saving.register_keras_serializable(package="reprokit")
class FusedSGD(_Fused, keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with a one-kernel update (``ResourceApplyGradientDescent``, or
    ``ResourceApplyKerasMomentum`` with momentum)."""

    def _fused_update(self, grad, var, lr):
        if self.momentum == 0:
            return tf.raw_ops.ResourceApplyGradientDescent(var=var.handle, alpha=lr, delta=grad)
        m = _tf_var(self.momentums[self._get_variable_index(var)])
        return tf.raw_ops.ResourceApplyKerasMomentum(
            var=var.handle, accum=m.handle, lr=lr, grad=grad,
            momentum=self._const("momentum", var.dtype, lambda: self.momentum),
            use_nesterov=bool(self.nesterov))


@keras.saving.register_keras_serializable(package="reprokit")
class FusedRMSprop(_Fused, keras.optimizers.RMSprop):
    """``keras.optimizers.RMSprop`` with a one-kernel update (``ResourceApplyRMSProp``; the
    ``centered`` variant stays Keras's code)."""

    def _fusable(self):
        return not self.centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        if self.momentum == 0 and not self.centered:
            scratch = self._fused_state().scratch
            for v in var_list:
                ref = _tf_var(v)
                # created eagerly (as Keras's slots), also when build runs inside a trace
                with tf.init_scope(), \
                        self._distribution_strategy.extended.colocate_vars_with(ref):
                    scratch[self._var_key(v)] = tf.Variable(
                        tf.zeros(ref.shape, ref.dtype), trainable=False,
                        name=f"{ref.name.split(':')[0].replace('/', '_')}_step")

    def _fused_update(self, grad, var, lr):
        i = self._get_variable_index(var)
        mom = (_tf_var(self._momentums[i]) if self.momentum > 0
               else self._fused_state().scratch[self._var_key(var)])
        return tf.raw_ops.ResourceApplyRMSProp(
            var=var.handle, ms=_tf_var(self._velocities[i]).handle, mom=mom.handle, lr=lr,
            rho=self._const("rho", var.dtype, lambda: self.rho),
            momentum=self._const("momentum", var.dtype, lambda: self.momentum),
            epsilon=self._const("eps", var.dtype, lambda: self.epsilon), grad=grad,
            use_locking=False)

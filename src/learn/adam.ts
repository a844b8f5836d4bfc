/**
 * Adam (Kingma & Ba 2015) over a fixed list of tfjs variables, with its moments as plain variables so that
 * a checkpoint can save and restore them and the learning rate can change from step to step — tfjs's own
 * AdamOptimizer hides both.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../detect/landmark-net.js';

export class Adam {
  readonly first: TfCore.Variable[];
  readonly second: TfCore.Variable[];
  step = 0;

  constructor(
    private readonly tf: Tf,
    readonly variables: TfCore.Variable[],
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.first = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    this.second = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  }

  /** One step down the gradient of `loss`; returns the loss value. */
  minimize(loss: () => TfCore.Scalar, learningRate: number): number {
    const tf = this.tf;
    const { value, grads } = tf.variableGrads(loss, this.variables);
    this.step++;
    const lr = (learningRate * Math.sqrt(1 - this.beta2 ** this.step)) / (1 - this.beta1 ** this.step);
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const g = grads[v.name];
        const m = tf.add(tf.mul(this.first[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const s = tf.add(tf.mul(this.second[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.first[i].assign(m);
        this.second[i].assign(s);
        v.assign(tf.sub(v, tf.div(tf.mul(m, lr), tf.add(tf.sqrt(s), this.epsilon))));
      });
    });
    const result = value.dataSync()[0];
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    return result;
  }

  dispose(): void {
    for (const v of [...this.first, ...this.second]) v.dispose();
  }
}

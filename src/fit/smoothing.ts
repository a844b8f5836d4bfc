/**
 * The One Euro filter (Casiez, Roussel & Vogel, CHI 2012) over a vector of values: a low-pass filter
 * whose cutoff rises with the speed of the signal, so a still head stops jittering while a moving one
 * does not lag. Each value is filtered on its own; the state is preallocated.
 */
export interface OneEuroOptions {
  /** Cutoff in Hz when the value is still: lower = less jitter, more lag (default 1). */
  minCutoff?: number;
  /** How fast the cutoff rises with speed, per (value unit / s) (default 0.05). */
  beta?: number;
  /** Cutoff for the speed estimate in Hz (default 1). */
  derivativeCutoff?: number;
}

export class OneEuroFilter {
  readonly size: number;
  private readonly minCutoff: number;
  private readonly beta: number;
  private readonly derivativeCutoff: number;
  private readonly value: Float64Array;
  private readonly derivative: Float64Array;
  private lastTime = NaN;

  constructor(size: number, options: OneEuroOptions = {}) {
    this.size = size;
    this.minCutoff = options.minCutoff ?? 1;
    this.beta = options.beta ?? 0.05;
    this.derivativeCutoff = options.derivativeCutoff ?? 1;
    this.value = new Float64Array(size);
    this.derivative = new Float64Array(size);
  }

  /** Forgets the past: the next sample passes through unchanged. */
  reset(): void {
    this.lastTime = NaN;
  }

  /** Filters `sample` (taken at `timeSeconds`) in place. */
  filter(sample: Float64Array | Float32Array, timeSeconds: number): void {
    const dt = timeSeconds - this.lastTime;
    if (!(dt > 0)) {
      // The first sample (or a repeated timestamp) starts the filter over.
      for (let i = 0; i < this.size; i++) this.value[i] = sample[i];
      this.derivative.fill(0);
      this.lastTime = timeSeconds;
      return;
    }
    this.lastTime = timeSeconds;
    const alphaD = smoothingFactor(dt, this.derivativeCutoff);
    for (let i = 0; i < this.size; i++) {
      const speed = (sample[i] - this.value[i]) / dt;
      const d = this.derivative[i] + alphaD * (speed - this.derivative[i]);
      this.derivative[i] = d;
      const alpha = smoothingFactor(dt, this.minCutoff + this.beta * Math.abs(d));
      const v = this.value[i] + alpha * (sample[i] - this.value[i]);
      this.value[i] = v;
      sample[i] = v;
    }
  }
}

function smoothingFactor(dt: number, cutoff: number): number {
  const r = 2 * Math.PI * cutoff * dt;
  return r / (r + 1);
}

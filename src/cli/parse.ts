import { InputError } from '../errors.js';

/**
 * Option value parsers for commander that name the option in their error:
 * `--max-faces: -1 is not a positive integer`.
 */
export function intOption(option: string): (value: string) => number {
  return (value) => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InputError(option, `${value} is not an integer`);
    return Number(value);
  };
}

export function positiveIntOption(option: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!/^\+?\d+$/.test(value.trim()) || v < 1) throw new InputError(option, `${value} is not a positive integer`);
    return v;
  };
}

export function numberOption(option: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v)) throw new InputError(option, `${value} is not a number`);
    return v;
  };
}

export function positiveNumberOption(option: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === '' || !(v > 0) || !Number.isFinite(v))
      throw new InputError(option, `${value} is not a positive number`);
    return v;
  };
}

export function unitIntervalOption(option: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (value.trim() === '' || !(v >= 0 && v <= 1))
      throw new InputError(option, `${value} is not a number from 0 to 1`);
    return v;
  };
}

/** A comma-separated list of names out of `allowed` (no repeats kept): `--outputs json,glb`. */
export function listOption<T extends string>(option: string, allowed: readonly T[]): (value: string) => T[] {
  return (value) => {
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    const unknown = items.filter((item) => !allowed.includes(item as T));
    if (unknown.length || items.length === 0)
      throw new InputError(
        option,
        `${unknown.length ? `unknown: ${unknown.join(', ')}` : 'empty'}; choose from ${allowed.join(', ')}`,
      );
    return [...new Set(items as T[])];
  };
}

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

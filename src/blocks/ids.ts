// Block and drive ids: the only strings that ever become parts of shard file paths.
import { randomBytes } from 'node:crypto';
import { blockIdChars, driveIdChars, shardsMax } from './limits.js';

const blockIdPattern = new RegExp(`^[0-9a-f]{${blockIdChars}}$`);
const driveIdPattern = new RegExp(`^[0-9a-f]{${driveIdChars}}$`);

export function newBlockId(): string {
  return randomBytes(blockIdChars / 2).toString('hex');
}

export function newDriveId(): string {
  return randomBytes(driveIdChars / 2).toString('hex');
}

export function isBlockId(value: unknown): value is string {
  return typeof value === 'string' && blockIdPattern.test(value);
}

export function isDriveId(value: unknown): value is string {
  return typeof value === 'string' && driveIdPattern.test(value);
}

export function isShardIndex(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < shardsMax;
}

/** Boundary check for ids handed in by callers: a key or path must never reach the file system. */
export function checkBlockId(value: unknown): string {
  if (!isBlockId(value)) {
    throw new RangeError(`Cannot use block id "${String(value)}": expected ${blockIdChars} lowercase hex characters`);
  }
  return value;
}

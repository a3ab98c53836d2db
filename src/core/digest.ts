import type { ScimAttrs } from './attributes.js';

/**
 * Digests that state keeps beside what it records, so that planning tells an
 * unchanged user or group member list by one number instead of reading the
 * whole record back. Each is 53 bits (an integer JavaScript and SQLite both
 * hold exactly), made of two independent 32-bit string hashes: FNV-1a and a
 * multiply-xorshift, each finished with an avalanche step.
 */

const TWO_21 = 0x200000;
const TWO_32 = 0x100000000;

// The last hashText result, kept in two numbers so that hashing allocates nothing.
let hashA = 0;
let hashB = 0;

function hashText(text: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 15;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  hashA = a >>> 0;
  hashB = b >>> 0;
}

// A mapping writes a few dozen paths, the same strings for every user: hashed once each.
const pathHashes = new Map<string, readonly [number, number]>();

function pathHash(path: string): readonly [number, number] {
  let h = pathHashes.get(path);
  if (h === undefined) {
    hashText(path);
    h = [hashA, hashB];
    if (pathHashes.size < 10_000) pathHashes.set(path, h);
  }
  return h;
}

const TAG_STRING = 0x9e3779b9;
const TAG_NUMBER = 0x7f4a7c15;
const TAG_BOOLEAN = 0x94d049bb;
const TAG_REF = 0xbf58476d;

/** A digest of a user's attributes: paths, values and their order. */
export function attrsDigest(attrs: ScimAttrs): number {
  let a = 0x2545f491;
  let b = 0x68e31da4;
  const step = (ha: number, hb: number) => {
    a = Math.imul(a ^ ha, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b ^ hb, 0x5bd1e995);
    b ^= b >>> 13;
  };
  for (const path in attrs) {
    const v = attrs[path]!;
    const [pa, pb] = pathHash(path);
    step(pa, pb);
    let tag: number;
    if (typeof v === 'string') {
      hashText(v);
      tag = TAG_STRING;
    } else if (typeof v === 'number') {
      hashText(String(v));
      tag = TAG_NUMBER;
    } else if (typeof v === 'boolean') {
      hashText(v ? 'true' : 'false');
      tag = TAG_BOOLEAN;
    } else {
      hashText(v.userRef);
      tag = TAG_REF;
    }
    step(hashA ^ tag, hashB ^ tag);
  }
  return (a >>> 0) * TWO_21 + ((b >>> 0) >>> 11);
}

/** The digest of an empty member list. */
export const NO_MEMBERS = 0;

/**
 * A digest of a set of member ids, whatever their order: the sums of their
 * hashes. One member in or out adjusts it (`withMember`, `withoutMember`)
 * without reading the others.
 */
export function membersDigest(ids: Iterable<string>): number {
  let d = NO_MEMBERS;
  for (const id of ids) d = withMember(d, id);
  return d;
}

export function withMember(digest: number, id: string): number {
  return adjust(digest, id, 1);
}

export function withoutMember(digest: number, id: string): number {
  return adjust(digest, id, -1);
}

function adjust(digest: number, id: string, sign: 1 | -1): number {
  hashText(id);
  const high = Math.floor(digest / TWO_21);
  const low = digest - high * TWO_21;
  const a = (((high + sign * hashA) % TWO_32) + TWO_32) % TWO_32;
  const b = (((low + sign * (hashB >>> 11)) % TWO_21) + TWO_21) % TWO_21;
  return a * TWO_21 + b;
}

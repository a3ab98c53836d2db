import { writeFileSync } from 'node:fs';

/**
 * A synthetic directory: n users (every 10th manages the next nine), g groups,
 * and about `memberships` memberships spread over the groups. `changed` users
 * (the first ones) get a new title.
 */
export function writeDirectory(path: string, n: number, g: number, memberships: number, changed = 0): void {
  const users: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    users[i] = {
      id: `u${i}`,
      userName: `user${i}@example.com`,
      givenName: `Given${i}`,
      familyName: `Family${i}`,
      email: `user${i}@example.com`,
      title: i < changed ? 'Changed title' : i % 7 === 0 ? 'Manager' : 'Engineer',
      ...(i % 3 === 0 ? { phone: `+1 555 ${i % 10000}` } : {}),
      ...(i % 10 !== 0 ? { managerId: `u${i - (i % 10)}` } : {}),
      department: `Dept${i % 50}`,
    };
  }
  const perGroup = Math.floor(memberships / g);
  const groups = [];
  for (let k = 0; k < g; k++) {
    const members: string[] = new Array(perGroup);
    for (let j = 0; j < perGroup; j++) members[j] = `u${(k * 7919 + j * 31) % n}`;
    groups.push({ id: `g${k}`, displayName: `Group ${k}`, members: [...new Set(members)] });
  }
  // Written in pieces: one JSON.stringify of a million users would need the whole string at once.
  const parts: string[] = ['{"users":['];
  for (let i = 0; i < n; i++) parts.push((i ? ',' : '') + JSON.stringify(users[i]));
  parts.push('],"groups":', JSON.stringify(groups), '}');
  writeFileSync(path, parts.join(''));
}

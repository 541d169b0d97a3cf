/**
 * The announcement of a commit on a shared store's channel: `first:last:threadId` (the id last,
 * as it may hold ':'). The Redis append script builds the same text in Lua.
 */
export function announcement(threadId: string, first: number, last: number): string {
  return `${first}:${last}:${threadId}`;
}

export function parseAnnouncement(
  payload: string,
): { threadId: string; first: number; last: number } | null {
  const m = /^(\d+):(\d+):([\s\S]*)$/.exec(payload);
  return m ? { first: Number(m[1]), last: Number(m[2]), threadId: m[3]! } : null;
}

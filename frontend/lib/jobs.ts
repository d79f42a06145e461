/** Pure helpers for the upload hook's job list. */
import { isTerminalJobStatus, type Job } from "@/lib/schemas";

/**
 * Apply fresh job snapshots (by id) to the list, keeping its order. A job that already
 * reached a terminal status keeps it: terminal statuses are final, so a non-terminal
 * snapshot of such a job is stale (e.g. a poll that raced a cancel).
 */
export function applyJobUpdates(current: readonly Job[], updates: ReadonlyMap<string, Job>): Job[] {
  return current.map((job) => {
    const updated = updates.get(job.id);
    if (updated === undefined) return job;
    if (isTerminalJobStatus(job.status) && !isTerminalJobStatus(updated.status)) return job;
    return updated;
  });
}

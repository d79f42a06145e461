/** Small display helpers shared by the sidebar components. */
import type { Job } from "@/lib/schemas";

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * "about 25 s left" / "about 3 min left" for an estimated number of seconds, `null` when the
 * estimate is missing or not a number. Under 90 s it is rounded to 5 s (at least 5 s), else
 * to whole minutes (at least 2).
 */
export function formatEta(seconds: number | null): string | null {
  if (seconds === null || !Number.isFinite(seconds)) return null;
  if (seconds < 90) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s left`;
  return `about ${Math.max(2, Math.round(seconds / 60))} min left`;
}

const embeddingChunks = (job: Job): boolean => job.status === "embedding" && job.chunks > 0;

/**
 * One line describing where a job stands, e.g. "parsing · 3/5 pages",
 * "embedding · 12/40 chunks · about 20 s left" or "done · 12 chunks".
 */
export function describeJob(job: Job): string {
  switch (job.status) {
    case "done":
      return job.chunks > 0 ? `done · ${plural(job.chunks, "chunk")}` : "done";
    case "failed":
      return job.error ? `failed: ${job.error}` : "failed";
    case "cancelled":
      return "cancelled";
    case "duplicate":
      return "duplicate: already in library";
    default: {
      const bits: string[] = [job.status];
      if (embeddingChunks(job)) {
        bits.push(`${Math.min(job.chunks_embedded, job.chunks)}/${job.chunks} chunks`);
      } else {
        if (job.pages_total !== null && job.pages_total > 0) bits.push(`${job.pages_done}/${job.pages_total} pages`);
        else if (job.pages_done > 0) bits.push(plural(job.pages_done, "page"));
        if (job.chunks > 0) bits.push(plural(job.chunks, "chunk"));
      }
      const eta = formatEta(job.eta_s);
      if (eta) bits.push(eta);
      return bits.join(" · ");
    }
  }
}

/** Progress in [0, 1] for a running job, `null` when unknown. */
export function jobProgress(job: Job): number | null {
  if (job.status === "done") return 1;
  if (embeddingChunks(job)) return Math.max(0, Math.min(1, job.chunks_embedded / job.chunks));
  if (job.pages_total === null || job.pages_total <= 0) return null;
  return Math.max(0, Math.min(1, job.pages_done / job.pages_total));
}

export function formatDate(iso: string, now: Date = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

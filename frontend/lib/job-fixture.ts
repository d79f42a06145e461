import type { Job } from "@/lib/schemas";

/** A complete `Job` for tests: a queued "a.pdf" with no progress, overridden by `patch`. */
export const makeJob = (patch: Partial<Job> = {}): Job => ({
  id: "j",
  document_id: null,
  filename: "a.pdf",
  collection: "default",
  status: "queued",
  error: null,
  pages_total: null,
  pages_done: 0,
  chunks: 0,
  chunks_embedded: 0,
  eta_s: null,
  created_at: "",
  updated_at: "",
  ...patch,
});

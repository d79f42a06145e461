import { describe, expect, it } from "vitest";
import { describeJob, formatBytes, jobProgress } from "@/lib/format";
import type { Job } from "@/lib/schemas";

const job = (patch: Partial<Job>): Job => ({
  id: "j",
  document_id: null,
  filename: "a.pdf",
  collection: "default",
  status: "queued",
  error: null,
  pages_total: null,
  pages_done: 0,
  chunks: 0,
  created_at: "",
  updated_at: "",
  ...patch,
});

describe("describeJob", () => {
  it("shows progress while running", () => {
    expect(describeJob(job({ status: "parsing", pages_total: 10, pages_done: 3 }))).toBe("parsing · 3/10 pages");
    expect(describeJob(job({ status: "embedding", pages_total: 2, pages_done: 2, chunks: 1 }))).toBe(
      "embedding · 2/2 pages · 1 chunk",
    );
    expect(describeJob(job({ status: "queued" }))).toBe("queued");
  });

  it("names terminal states, with the error for failures", () => {
    expect(describeJob(job({ status: "done", chunks: 6 }))).toBe("done · 6 chunks");
    expect(describeJob(job({ status: "failed", error: "password required" }))).toBe("failed: password required");
    expect(describeJob(job({ status: "duplicate" }))).toBe("duplicate: already in library");
  });

  it("computes progress only when the page total is known", () => {
    expect(jobProgress(job({ status: "parsing", pages_total: 4, pages_done: 1 }))).toBe(0.25);
    expect(jobProgress(job({ status: "parsing" }))).toBeNull();
    expect(jobProgress(job({ status: "done" }))).toBe(1);
  });
});

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });
});

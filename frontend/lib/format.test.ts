import { describe, expect, it } from "vitest";
import { describeJob, formatBytes, formatEta, jobProgress } from "@/lib/format";
import { makeJob } from "@/lib/job-fixture";

const job = makeJob;

describe("describeJob", () => {
  it("shows progress while running", () => {
    expect(describeJob(job({ status: "parsing", pages_total: 10, pages_done: 3 }))).toBe("parsing · 3/10 pages");
    expect(describeJob(job({ status: "indexing", pages_total: 2, pages_done: 2, chunks: 1 }))).toBe(
      "indexing · 2/2 pages · 1 chunk",
    );
    expect(describeJob(job({ status: "embedding", pages_total: 2, pages_done: 2 }))).toBe("embedding · 2/2 pages");
    expect(describeJob(job({ status: "queued" }))).toBe("queued");
  });

  it("names terminal states, with the error for failures", () => {
    expect(describeJob(job({ status: "done", chunks: 6 }))).toBe("done · 6 chunks");
    expect(describeJob(job({ status: "failed", error: "password required" }))).toBe("failed: password required");
    expect(describeJob(job({ status: "duplicate" }))).toBe("duplicate: already in library");
    expect(describeJob(job({ status: "cancelled", error: "cancelled", chunks: 4, eta_s: 30 }))).toBe("cancelled");
  });

  it("counts embedded chunks while embedding", () => {
    expect(
      describeJob(job({ status: "embedding", pages_total: 5, pages_done: 5, chunks: 40, chunks_embedded: 12 })),
    ).toBe("embedding · 12/40 chunks");
    expect(describeJob(job({ status: "embedding", chunks: 40 }))).toBe("embedding · 0/40 chunks");
  });

  it("appends the estimated time left to running jobs", () => {
    expect(describeJob(job({ status: "parsing", pages_total: 10, pages_done: 3, eta_s: 42 }))).toBe(
      "parsing · 3/10 pages · about 40 s left",
    );
    expect(describeJob(job({ status: "embedding", chunks: 40, chunks_embedded: 12, eta_s: 300 }))).toBe(
      "embedding · 12/40 chunks · about 5 min left",
    );
    expect(describeJob(job({ status: "queued", eta_s: 1 }))).toBe("queued · about 5 s left");
    expect(describeJob(job({ status: "done", chunks: 6, eta_s: 12 }))).toBe("done · 6 chunks");
  });

  it("computes progress only when the page total is known", () => {
    expect(jobProgress(job({ status: "parsing", pages_total: 4, pages_done: 1 }))).toBe(0.25);
    expect(jobProgress(job({ status: "parsing" }))).toBeNull();
    expect(jobProgress(job({ status: "done" }))).toBe(1);
  });

  it("uses embedded chunks for progress while embedding", () => {
    expect(jobProgress(job({ status: "embedding", pages_total: 4, pages_done: 4, chunks: 40, chunks_embedded: 10 }))).toBe(
      0.25,
    );
    expect(jobProgress(job({ status: "embedding", chunks: 8 }))).toBe(0);
    expect(jobProgress(job({ status: "embedding", chunks: 8, chunks_embedded: 9 }))).toBe(1);
    expect(jobProgress(job({ status: "embedding", pages_total: 4, pages_done: 2 }))).toBe(0.5);
    expect(jobProgress(job({ status: "indexing", pages_total: 4, pages_done: 4, chunks: 8 }))).toBe(1);
  });
});

describe("formatEta", () => {
  it("rounds seconds to 5 s under 90 s, with a 5 s floor", () => {
    expect(formatEta(0)).toBe("about 5 s left");
    expect(formatEta(2)).toBe("about 5 s left");
    expect(formatEta(12)).toBe("about 10 s left");
    expect(formatEta(13)).toBe("about 15 s left");
    expect(formatEta(89)).toBe("about 90 s left");
  });

  it("uses whole minutes from 90 s, with a 2 min floor", () => {
    expect(formatEta(90)).toBe("about 2 min left");
    expect(formatEta(149)).toBe("about 2 min left");
    expect(formatEta(151)).toBe("about 3 min left");
    expect(formatEta(3600)).toBe("about 60 min left");
  });

  it("is null when unknown", () => {
    expect(formatEta(null)).toBeNull();
    expect(formatEta(Number.NaN)).toBeNull();
  });
});

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });
});
